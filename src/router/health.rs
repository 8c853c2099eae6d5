//! Per-deployment health: rolling success rate, latency and TTFT EWMAs, in-flight count, and
//! a circuit breaker (closed → open for a cooldown → half-open with one probe → closed).
//!
//! A cooldown starts after `failures_before_cooldown` failures in a row, or at once on a 429
//! (for its `Retry-After`, when given). While it lasts, routing skips the deployment without
//! sending anything; when it ends, exactly one request probes it. A failed probe doubles the
//! cooldown, up to `max_cooldown`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

/// Tuning of health tracking.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthPolicy {
    pub failures_before_cooldown: u32,
    pub cooldown: Duration,
    pub max_cooldown: Duration,
    /// Weight of the newest sample in the moving averages.
    pub alpha: f64,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            failures_before_cooldown: 3,
            cooldown: Duration::from_secs(30),
            max_cooldown: Duration::from_secs(600),
            alpha: 0.2,
        }
    }
}

/// Whether a deployment may take a request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Available,
    /// The cooldown is over: this request is the probe.
    Probe,
    /// Cooling down for this much longer (or a probe is already in flight).
    CoolingDown(Duration),
}

#[derive(Debug, Clone, Default)]
struct State {
    success_rate: Option<f64>,
    latency_ms: Option<f64>,
    ttft_ms: Option<f64>,
    consecutive_failures: u32,
    cooldown_until: Option<Instant>,
    /// The cooldown to use next time (doubles after a failed probe).
    next_cooldown: Option<Duration>,
    probing: bool,
    requests: u64,
    failures: u64,
}

/// Health of one deployment.
#[derive(Debug, Default)]
pub struct Health {
    state: Mutex<State>,
    in_flight: AtomicU32,
}

/// A snapshot for display and scoring.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct HealthSnapshot {
    pub success_rate: Option<f64>,
    pub latency_ms: Option<f64>,
    pub ttft_ms: Option<f64>,
    pub in_flight: u32,
    pub requests: u64,
    pub failures: u64,
    /// Seconds of cooldown left, if cooling down.
    pub cooldown_secs: Option<f64>,
}

/// Decrements the in-flight count when dropped (also when a request is cancelled).
#[derive(Debug)]
pub struct InFlight(Arc<Health>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

fn ewma(old: Option<f64>, sample: f64, alpha: f64) -> Option<f64> {
    Some(match old {
        Some(old) => old + alpha * (sample - old),
        None => sample,
    })
}

impl Health {
    pub fn availability(&self, now: Instant) -> Availability {
        let mut s = self.state.lock().expect("health lock");
        match s.cooldown_until {
            None => Availability::Available,
            Some(until) if now < until => Availability::CoolingDown(until - now),
            Some(_) if s.probing => Availability::CoolingDown(Duration::ZERO),
            Some(_) => {
                s.probing = true;
                Availability::Probe
            }
        }
    }

    /// Marks a request as in flight until the guard drops.
    pub fn start(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub fn record_success(&self, policy: &HealthPolicy, latency: Duration, ttft: Option<Duration>) {
        let mut s = self.state.lock().expect("health lock");
        s.requests += 1;
        s.success_rate = ewma(s.success_rate, 1.0, policy.alpha);
        s.latency_ms = ewma(s.latency_ms, latency.as_secs_f64() * 1e3, policy.alpha);
        if let Some(ttft) = ttft {
            s.ttft_ms = ewma(s.ttft_ms, ttft.as_secs_f64() * 1e3, policy.alpha);
        }
        s.consecutive_failures = 0;
        s.cooldown_until = None;
        s.next_cooldown = None;
        s.probing = false;
    }

    /// Records a failure; `retry_after` (from a 429) starts a cooldown at once.
    pub fn record_failure(
        &self,
        policy: &HealthPolicy,
        now: Instant,
        rate_limited: bool,
        retry_after: Option<Duration>,
    ) {
        let mut s = self.state.lock().expect("health lock");
        s.requests += 1;
        s.failures += 1;
        s.success_rate = ewma(s.success_rate, 0.0, policy.alpha);
        s.consecutive_failures += 1;
        let was_probe = std::mem::replace(&mut s.probing, false);
        if rate_limited || was_probe || s.consecutive_failures >= policy.failures_before_cooldown {
            let base = s.next_cooldown.unwrap_or(policy.cooldown);
            let cooldown = match retry_after {
                Some(d) if rate_limited => d.min(policy.max_cooldown),
                _ => base,
            };
            s.cooldown_until = Some(now + cooldown);
            s.next_cooldown = Some((base * 2).min(policy.max_cooldown));
        }
    }

    /// Applies a cooldown another replica announced (it only ever extends one).
    pub fn apply_remote_cooldown(&self, until: Instant) {
        let mut s = self.state.lock().expect("health lock");
        if s.cooldown_until.is_none_or(|u| u < until) {
            s.cooldown_until = Some(until);
        }
    }

    /// When the current cooldown ends, if there is one.
    pub fn cooldown_until(&self) -> Option<Instant> {
        self.state.lock().expect("health lock").cooldown_until
    }

    /// A probe that ended without a verdict (e.g. cancelled) lets another request probe.
    pub fn release_probe(&self) {
        self.state.lock().expect("health lock").probing = false;
    }

    pub fn snapshot(&self, now: Instant) -> HealthSnapshot {
        let s = self.state.lock().expect("health lock");
        HealthSnapshot {
            success_rate: s.success_rate,
            latency_ms: s.latency_ms,
            ttft_ms: s.ttft_ms,
            in_flight: self.in_flight(),
            requests: s.requests,
            failures: s.failures,
            cooldown_secs: s
                .cooldown_until
                .filter(|u| *u > now)
                .map(|u| (u - now).as_secs_f64()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> HealthPolicy {
        HealthPolicy {
            failures_before_cooldown: 2,
            cooldown: Duration::from_secs(10),
            max_cooldown: Duration::from_secs(25),
            alpha: 0.5,
        }
    }

    #[test]
    fn cooldown_probe_and_recovery() {
        let h = Health::default();
        let p = policy();
        let t0 = Instant::now();
        h.record_failure(&p, t0, false, None);
        assert_eq!(h.availability(t0), Availability::Available);
        h.record_failure(&p, t0, false, None);
        assert!(
            matches!(h.availability(t0), Availability::CoolingDown(d) if d == Duration::from_secs(10))
        );
        let later = t0 + Duration::from_secs(11);
        assert_eq!(h.availability(later), Availability::Probe);
        // Only one probe at a time.
        assert!(matches!(
            h.availability(later),
            Availability::CoolingDown(_)
        ));
        // A failed probe doubles the cooldown.
        h.record_failure(&p, later, false, None);
        assert!(
            matches!(h.availability(later), Availability::CoolingDown(d) if d == Duration::from_secs(20))
        );
        let much_later = later + Duration::from_secs(21);
        assert_eq!(h.availability(much_later), Availability::Probe);
        h.record_success(&p, Duration::from_millis(100), None);
        assert_eq!(h.availability(much_later), Availability::Available);
        assert_eq!(h.snapshot(much_later).failures, 3);
    }

    #[test]
    fn rate_limit_cools_down_at_once_for_retry_after() {
        let h = Health::default();
        let t0 = Instant::now();
        h.record_failure(&policy(), t0, true, Some(Duration::from_secs(3)));
        assert!(
            matches!(h.availability(t0), Availability::CoolingDown(d) if d == Duration::from_secs(3))
        );
    }

    #[test]
    fn in_flight_guard_counts() {
        let h = Arc::new(Health::default());
        let a = h.start();
        let b = h.start();
        assert_eq!(h.in_flight(), 2);
        drop(a);
        drop(b);
        assert_eq!(h.in_flight(), 0);
    }
}
