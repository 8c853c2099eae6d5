//! Per-deployment health: rolling success rate, latency and TTFT EWMAs, in-flight count, and
//! a circuit breaker (closed → open for a cooldown → half-open with one probe → closed).
//!
//! A cooldown starts after `failures_before_cooldown` failures in a row, or at once on a 429
//! (for its `Retry-After`, when given). While it lasts, routing skips the deployment without
//! sending anything; when it ends, exactly one request probes it. A failed probe doubles the
//! cooldown, up to `max_cooldown`. The probe slot belongs to the request's [`InFlight`] guard:
//! a probe dropped before its verdict (the client went away, a cooperation failed fast, a
//! stream was dropped early) frees the slot for the next request.
//!
//! A 401/403 marks the deployment misconfigured (its key is wrong) instead: it is left out
//! until the configuration is reloaded, with the upstream's reason, and never probed.

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
    /// Set by a 401/403: (status, the upstream's message); cleared by a reload.
    misconfigured: Option<(u16, String)>,
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
    /// Why the deployment is left out until a reload (the upstream rejected its key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub misconfigured: Option<String>,
}

/// A request on a deployment: decrements the in-flight count when dropped (also when the
/// request is cancelled), and frees the probe slot if this request was the probe and ended
/// without a verdict.
#[derive(Debug)]
pub struct InFlight {
    health: Arc<Health>,
    probe: bool,
}

impl InFlight {
    /// Whether this request is the probe after a cooldown.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// The verdict was recorded: dropping the guard no longer frees the probe slot (a later
    /// request may be probing by then).
    pub fn settle(&mut self) {
        self.probe = false;
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.health.in_flight.fetch_sub(1, Ordering::Relaxed);
        if self.probe {
            self.health.release_probe();
        }
    }
}

fn ewma(old: Option<f64>, sample: f64, alpha: f64) -> Option<f64> {
    Some(match old {
        Some(old) => old + alpha * (sample - old),
        None => sample,
    })
}

impl Health {
    /// Whether a request may go now; takes the probe slot when the cooldown is over. Prefer
    /// [`Health::admit`], whose guard gives the slot back.
    fn availability(&self, now: Instant) -> Availability {
        let mut s = self.state.lock().expect("health lock");
        if s.misconfigured.is_some() {
            return Availability::CoolingDown(Duration::MAX);
        }
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

    /// Admits a request, in flight until the guard drops (the guard holds the probe slot
    /// when this request is the probe), or says how long the deployment cools down for
    /// (`Duration::MAX` while misconfigured).
    pub fn admit(self: &Arc<Self>, now: Instant) -> Result<InFlight, Duration> {
        let probe = match self.availability(now) {
            Availability::Available => false,
            Availability::Probe => true,
            Availability::CoolingDown(d) => return Err(d),
        };
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Ok(InFlight {
            health: self.clone(),
            probe,
        })
    }

    /// Marks the deployment misconfigured (its key was rejected) until a reload. Returns
    /// whether it was not already (so the caller logs it once).
    pub fn mark_misconfigured(&self, status: u16, message: &str) -> bool {
        let mut s = self.state.lock().expect("health lock");
        s.probing = false;
        s.misconfigured
            .replace((status, message.to_owned()))
            .is_none()
    }

    /// The rejected key's status and message, while misconfigured.
    pub fn misconfigured(&self) -> Option<(u16, String)> {
        self.state
            .lock()
            .expect("health lock")
            .misconfigured
            .clone()
    }

    /// A reload may have fixed the key: try the deployment again.
    pub fn clear_misconfigured(&self) {
        self.state.lock().expect("health lock").misconfigured = None;
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
    fn release_probe(&self) {
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
            misconfigured: s.misconfigured.as_ref().map(|(status, message)| {
                format!("the upstream rejected the API key (HTTP {status}: {message})")
            }),
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
        let a = h.admit(Instant::now()).unwrap();
        let b = h.admit(Instant::now()).unwrap();
        assert_eq!(h.in_flight(), 2);
        drop(a);
        drop(b);
        assert_eq!(h.in_flight(), 0);
    }

    /// A probe cancelled before its verdict (its guard dropped) lets the next request probe;
    /// it used to leave the deployment unavailable until the next reload.
    #[test]
    fn a_dropped_probe_frees_the_slot() {
        let h = Arc::new(Health::default());
        let p = policy();
        let t0 = Instant::now();
        h.record_failure(&p, t0, false, None);
        h.record_failure(&p, t0, false, None);
        let later = t0 + Duration::from_secs(11);
        let probe = h.admit(later).unwrap();
        assert!(probe.is_probe());
        assert!(h.admit(later).is_err(), "one probe at a time");
        drop(probe);
        let next = h.admit(later).expect("the slot is free again");
        assert!(next.is_probe());
    }

    /// A settled probe's guard does not free a later probe's slot.
    #[test]
    fn a_settled_probe_keeps_its_hands_off_the_next_one() {
        let h = Arc::new(Health::default());
        let p = policy();
        let t0 = Instant::now();
        h.record_failure(&p, t0, false, None);
        h.record_failure(&p, t0, false, None);
        let later = t0 + Duration::from_secs(11);
        let mut first = h.admit(later).unwrap();
        h.record_failure(&p, later, false, None);
        first.settle();
        let much_later = later + Duration::from_secs(21);
        let second = h.admit(much_later).unwrap();
        assert!(second.is_probe());
        drop(first);
        assert!(h.admit(much_later).is_err(), "still one probe at a time");
        drop(second);
    }

    #[test]
    fn a_rejected_key_leaves_the_deployment_out_until_cleared() {
        let h = Arc::new(Health::default());
        assert!(h.mark_misconfigured(401, "invalid x-api-key"));
        assert!(!h.mark_misconfigured(401, "invalid x-api-key"), "once");
        assert_eq!(h.admit(Instant::now()).unwrap_err(), Duration::MAX);
        let snap = h.snapshot(Instant::now());
        assert!(snap.misconfigured.unwrap().contains("HTTP 401"));
        assert_eq!(snap.cooldown_secs, None, "not a cooldown");
        h.clear_misconfigured();
        assert!(h.admit(Instant::now()).is_ok());
    }
}
