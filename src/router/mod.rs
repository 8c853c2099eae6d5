//! Routing: analyse → candidates → score → balance → try with failover.
//!
//! [`Router::decide`] turns a request into a [`Decision`], a value that can be printed
//! (`--explain`) and counted (`/routing/stats`): every candidate model with its score parts
//! and the reason it won, lost or was excluded. [`Router::chat`] and [`Router::chat_stream`]
//! then try the ranked models, each model's replicas in the balancer's order, skipping cooled-
//! down replicas without sending anything, within the request's total deadline, and never
//! after the first streamed byte. Health is recorded for every attempt.

pub mod analysis;
pub mod balance;
pub mod health;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::{Deserialize, Serialize};

pub use analysis::{Analysis, analyze};
pub use balance::{BalancePolicy, Replica, affinity_key};
pub use health::{Availability, Health, HealthPolicy, HealthSnapshot};

use crate::config::{Config, ConfigError, ModelConfig, Task};
use crate::providers::{Deployment, EventStream, HttpPolicy, ProviderError, Registry};
use crate::types::{ChatRequest, ChatResponse, StreamEvent};

/// How to choose among models when the request names none.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Fit the task, then balance quality against price and latency by `quality_priority`.
    #[default]
    Auto,
    /// Lowest observed latency (time to first token when streaming).
    Fastest,
    /// Lowest price for the estimated tokens.
    Cheapest,
    /// Highest quality tier.
    Quality,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Auto => "auto",
            Strategy::Fastest => "fastest",
            Strategy::Cheapest => "cheapest",
            Strategy::Quality => "quality",
        }
    }
}

/// What the caller wants from routing.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Preferences {
    #[serde(default)]
    pub strategy: Option<Strategy>,
    /// 0 (price and speed) to 1 (quality); `auto` only.
    #[serde(default)]
    pub quality_priority: Option<f32>,
    /// A complex request may become a cooperation plan instead of one model.
    #[serde(default)]
    pub allow_cooperation: bool,
}

/// Why a candidate was or was not chosen.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", content = "reason", rename_all = "snake_case")]
pub enum Verdict {
    Chosen(String),
    Ranked(String),
    Excluded(String),
}

/// The parts a score is made of, each in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScoreParts {
    pub fit: f32,
    pub quality: f32,
    pub cheapness: f32,
    pub speed: f32,
}

/// One model considered for a request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub model: String,
    pub score: f32,
    pub parts: ScoreParts,
    /// Estimated USD cost of this request on this model.
    pub estimated_cost: f64,
    pub verdict: Verdict,
}

/// A routing decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub analysis: Analysis,
    /// The strategy used, or `explicit` when the request named a model.
    pub strategy: String,
    pub candidates: Vec<Candidate>,
    /// Model names in the order they will be tried.
    pub order: Vec<String>,
    /// Whether this decision came from the decision cache.
    pub cached: bool,
}

/// One try at one deployment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attempt {
    pub model: String,
    pub provider: String,
    /// `None` when it answered.
    pub error: Option<String>,
    pub error_kind: Option<&'static str>,
}

/// An answer (or open stream) with the decision behind it and every attempt made.
#[derive(Debug)]
pub struct Routed<T> {
    pub value: T,
    pub decision: Arc<Decision>,
    pub attempts: Vec<Attempt>,
}

/// Routing failed before or after trying.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("No configured model can take this request: {0}")]
    NoCandidate(String),
    #[error("Every candidate is cooling down after failures; retry in {:.0} s", retry_after.as_secs_f64().ceil())]
    AllCoolingDown { retry_after: Duration },
    #[error("{} failed; tried {}", source.provider(), tried(attempts))]
    Exhausted {
        attempts: Vec<Attempt>,
        #[source]
        source: ProviderError,
    },
    #[error("No answer within the request deadline of {:.0} s; tried {}", deadline.as_secs_f64(), tried(attempts))]
    Deadline {
        deadline: Duration,
        attempts: Vec<Attempt>,
    },
}

fn tried(attempts: &[Attempt]) -> String {
    attempts
        .iter()
        .map(|a| format!("{} on `{}`", a.model, a.provider))
        .collect::<Vec<_>>()
        .join(", ")
}

impl RouteError {
    /// The attempts made before failing.
    pub fn attempts(&self) -> &[Attempt] {
        match self {
            RouteError::Exhausted { attempts, .. } | RouteError::Deadline { attempts, .. } => {
                attempts
            }
            _ => &[],
        }
    }
}

/// Counters behind `/routing/stats`.
#[derive(Debug, Default)]
struct Stats {
    total: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
    latency_us: AtomicU64,
    cache_hits: AtomicU64,
    counts: Mutex<StatCounts>,
}

#[derive(Debug, Default)]
struct StatCounts {
    strategies: BTreeMap<String, u64>,
    picks: BTreeMap<String, u64>,
    failures: BTreeMap<String, u64>,
}

/// A snapshot of the routing counters.
#[derive(Debug, Clone, Serialize)]
pub struct StatsSnapshot {
    pub total_requests: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub success_rate: Option<f64>,
    pub average_latency_ms: Option<f64>,
    pub decision_cache_hits: u64,
    pub strategy_usage: BTreeMap<String, u64>,
    /// Which model answered, by name.
    pub model_picks: BTreeMap<String, u64>,
    /// Failed attempts, by model name.
    pub model_failures: BTreeMap<String, u64>,
}

type CacheKey = (Task, u8, u8, bool, bool, Strategy, u8, usize);

/// The router: every deployment with its health, the decision cache and the counters.
#[derive(Debug)]
pub struct Router {
    registry: Registry,
    /// Index-aligned with `registry.deployments`.
    health: Vec<Arc<Health>>,
    /// Deployment indices by model name, in config order.
    by_name: BTreeMap<String, Vec<usize>>,
    /// Model configs by name (the first deployment's), in config order.
    models: Vec<ModelConfig>,
    /// Models that exist in config but have no usable deployment, and why.
    unusable: BTreeMap<String, String>,
    default_model: Option<String>,
    strategy: Strategy,
    quality_priority: f32,
    balance: BalancePolicy,
    affinity_imbalance: u32,
    health_policy: HealthPolicy,
    total_deadline: Duration,
    cache_ttl: Duration,
    cache: Mutex<HashMap<CacheKey, (Instant, Arc<Decision>)>>,
    turns: AtomicU64,
    stats: Stats,
}

impl Router {
    /// Builds the router (and one pooled client per provider) from the configuration.
    pub fn new(config: &Config) -> Result<Router, ConfigError> {
        let registry = Registry::from_config(config)?;
        let r = &config.settings.router;
        let health = registry
            .deployments
            .iter()
            .map(|_| Arc::new(Health::default()))
            .collect();
        let mut by_name: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, d) in registry.deployments.iter().enumerate() {
            by_name.entry(d.model.name.clone()).or_default().push(i);
        }
        let mut models: Vec<ModelConfig> = Vec::new();
        let mut unusable = BTreeMap::new();
        for m in &config.settings.models {
            if models.iter().any(|x| x.name == m.name) {
                continue;
            }
            if !by_name.contains_key(&m.name) {
                unusable.insert(
                    m.name.clone(),
                    crate::providers::missing_key(config, &m.provider).to_string(),
                );
            }
            models.push(m.clone());
        }
        let defaults = HealthPolicy::default();
        let secs = |v: Option<f64>, d: Duration| v.map(Duration::from_secs_f64).unwrap_or(d);
        let total_deadline = config
            .settings
            .defaults
            .total_timeout_secs
            .map(Duration::from_secs_f64)
            .unwrap_or(HttpPolicy::default().total);
        Ok(Router {
            registry,
            health,
            by_name,
            models,
            unusable,
            default_model: config.settings.defaults.model.clone(),
            strategy: r.strategy.unwrap_or_default(),
            quality_priority: r.quality_priority.unwrap_or(0.5),
            balance: r.balance.unwrap_or_default(),
            affinity_imbalance: r.affinity_imbalance.unwrap_or(4),
            health_policy: HealthPolicy {
                failures_before_cooldown: r
                    .failures_before_cooldown
                    .unwrap_or(defaults.failures_before_cooldown),
                cooldown: secs(r.cooldown_secs, defaults.cooldown),
                max_cooldown: secs(r.max_cooldown_secs, defaults.max_cooldown),
                alpha: defaults.alpha,
            },
            total_deadline,
            cache_ttl: Duration::from_millis(r.decision_cache_ttl_ms.unwrap_or(2000)),
            cache: Mutex::new(HashMap::new()),
            turns: AtomicU64::new(0),
            stats: Stats::default(),
        })
    }

    /// The configured model names, in config order.
    pub fn model_configs(&self) -> &[ModelConfig] {
        &self.models
    }

    pub fn default_model(&self) -> Option<&str> {
        self.default_model.as_deref()
    }

    /// Health of every deployment of `name`, with its provider.
    pub fn health_of(&self, name: &str) -> Vec<(&Deployment, HealthSnapshot)> {
        let now = Instant::now();
        self.by_name
            .get(name)
            .into_iter()
            .flatten()
            .map(|&i| (&self.registry.deployments[i], self.health[i].snapshot(now)))
            .collect()
    }

    /// Whether the request names a model rather than asking the router to pick.
    pub fn is_explicit(model: &str) -> bool {
        !(model.is_empty() || model == "auto")
    }

    /// Decides which models to try, in order. A named model is tried alone (its replicas
    /// still fail over to each other); `auto` or an empty name ranks every model.
    pub fn decide(
        &self,
        req: &ChatRequest,
        prefs: &Preferences,
    ) -> Result<Arc<Decision>, RouteError> {
        let analysis = analyze(req);
        if Self::is_explicit(&req.model) {
            return self.explicit(&req.model, analysis).map(Arc::new);
        }
        let strategy = prefs.strategy.unwrap_or(self.strategy);
        let q = prefs
            .quality_priority
            .unwrap_or(self.quality_priority)
            .clamp(0.0, 1.0);
        let key: CacheKey = (
            analysis.task,
            (analysis.complexity * 10.0) as u8,
            (32 - analysis.input_tokens.leading_zeros()) as u8,
            analysis.vision,
            analysis.long_context,
            strategy,
            (q * 10.0) as u8,
            req.max_tokens
                .map_or(0, |m| (32 - m.leading_zeros()) as usize),
        );
        let now = Instant::now();
        if let Some((at, d)) = self.cache.lock().expect("cache lock").get(&key)
            && now.duration_since(*at) < self.cache_ttl
        {
            self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
            let mut d = (**d).clone();
            d.analysis = analysis;
            d.cached = true;
            return Ok(Arc::new(d));
        }
        let decision = Arc::new(self.rank(analysis, strategy, q, req.max_tokens, now)?);
        let mut cache = self.cache.lock().expect("cache lock");
        if cache.len() > 4096 {
            cache.clear();
        }
        cache.insert(key, (now, decision.clone()));
        Ok(decision)
    }

    fn explicit(&self, name: &str, analysis: Analysis) -> Result<Decision, RouteError> {
        if !self.by_name.contains_key(name) {
            if let Some(why) = self.unusable.get(name) {
                return Err(ConfigError::Usage(why.clone()).into());
            }
            let names: Vec<&str> = self.models.iter().map(|m| m.name.as_str()).collect();
            return Err(if names.is_empty() {
                ConfigError::NoModels
            } else {
                ConfigError::UnknownModel {
                    name: name.to_owned(),
                    available: names.join(", "),
                }
            }
            .into());
        }
        let m = self
            .models
            .iter()
            .find(|m| m.name == name)
            .expect("named model is configured");
        Ok(Decision {
            candidates: vec![Candidate {
                model: name.to_owned(),
                score: 1.0,
                parts: ScoreParts {
                    fit: 1.0,
                    quality: tier_quality(m.tier),
                    cheapness: 1.0,
                    speed: 1.0,
                },
                estimated_cost: m.cost(analysis.input_tokens, 512),
                verdict: Verdict::Chosen("named in the request".into()),
            }],
            analysis,
            strategy: "explicit".into(),
            order: vec![name.to_owned()],
            cached: false,
        })
    }

    fn rank(
        &self,
        analysis: Analysis,
        strategy: Strategy,
        quality_priority: f32,
        max_tokens: Option<u32>,
        now: Instant,
    ) -> Result<Decision, RouteError> {
        // Expected output grows with complexity; `max_tokens` bounds it.
        let expected_out = max_tokens
            .unwrap_or(u32::MAX)
            .min(128 + (analysis.complexity * 1500.0) as u32);
        let needed = analysis.input_tokens + expected_out.min(1024);
        struct Row<'a> {
            m: &'a ModelConfig,
            cost: f64,
            latency: Option<f64>,
            excluded: Option<String>,
        }
        let mut rows: Vec<Row> = Vec::with_capacity(self.models.len());
        for m in &self.models {
            let cost = m.cost(analysis.input_tokens, expected_out);
            let mut excluded = None;
            let mut latency = None;
            if let Some(why) = self.unusable.get(&m.name) {
                excluded = Some(why.clone());
            } else if analysis.vision && !m.tasks.contains(&Task::Vision) {
                excluded = Some("cannot read images".into());
            } else if m.context_window < needed {
                excluded = Some(format!(
                    "context window {} < {} tokens needed",
                    m.context_window, needed
                ));
            } else {
                let deps = &self.by_name[&m.name];
                let mut cooling = Duration::MAX;
                let mut any = false;
                for &i in deps {
                    let snap = self.health[i].snapshot(now);
                    match snap.cooldown_secs {
                        Some(s) => cooling = cooling.min(Duration::from_secs_f64(s)),
                        None => any = true,
                    }
                    let l = if strategy == Strategy::Fastest {
                        snap.ttft_ms.or(snap.latency_ms)
                    } else {
                        snap.latency_ms
                    };
                    if let Some(l) = l {
                        latency = Some(latency.map_or(l, |x: f64| x.min(l)));
                    }
                }
                if !any {
                    excluded = Some(format!(
                        "cooling down for {:.0} s",
                        cooling.as_secs_f64().ceil()
                    ));
                }
            }
            rows.push(Row {
                m,
                cost,
                latency,
                excluded,
            });
        }
        let live = || rows.iter().filter(|r| r.excluded.is_none());
        let max_cost = live().map(|r| r.cost).fold(0.0, f64::max);
        let max_latency = live().filter_map(|r| r.latency).fold(0.0, f64::max);
        let q = (quality_priority + (analysis.complexity - 0.5) * 0.5).clamp(0.0, 1.0);
        let mut candidates: Vec<Candidate> = rows
            .iter()
            .map(|r| {
                let parts = ScoreParts {
                    fit: fit(r.m, &analysis),
                    quality: tier_quality(r.m.tier),
                    cheapness: if max_cost > 0.0 {
                        (1.0 - r.cost / max_cost) as f32
                    } else {
                        1.0
                    },
                    speed: match r.latency {
                        Some(l) if max_latency > 0.0 => (1.0 - l / max_latency) as f32 * 0.9 + 0.1,
                        // Unmeasured: neutral, so new models get tried.
                        _ => 0.5,
                    },
                };
                let score = match strategy {
                    Strategy::Auto => {
                        parts.fit
                            * (q * parts.quality
                                + (1.0 - q) * (0.6 * parts.cheapness + 0.4 * parts.speed))
                    }
                    Strategy::Fastest => 0.9 * parts.speed + 0.1 * parts.fit,
                    Strategy::Cheapest => 0.9 * parts.cheapness + 0.1 * parts.fit,
                    Strategy::Quality => 0.9 * parts.quality + 0.1 * parts.fit,
                };
                Candidate {
                    model: r.m.name.clone(),
                    score: if r.excluded.is_some() { 0.0 } else { score },
                    parts,
                    estimated_cost: r.cost,
                    verdict: match &r.excluded {
                        Some(why) => Verdict::Excluded(why.clone()),
                        None => Verdict::Ranked(String::new()),
                    },
                }
            })
            .collect();
        // Stable: equal scores keep config order.
        candidates.sort_by(|a, b| {
            let ex = |c: &Candidate| matches!(c.verdict, Verdict::Excluded(_));
            ex(a).cmp(&ex(b)).then(b.score.total_cmp(&a.score))
        });
        let order: Vec<String> = candidates
            .iter()
            .filter(|c| !matches!(c.verdict, Verdict::Excluded(_)))
            .map(|c| c.model.clone())
            .collect();
        if order.is_empty() {
            let cooling = candidates.iter().filter_map(|c| match &c.verdict {
                Verdict::Excluded(w) if w.starts_with("cooling down") => Some(()),
                _ => None,
            });
            if cooling.count() > 0 && !candidates.is_empty() {
                let retry_after = self
                    .health
                    .iter()
                    .filter_map(|h| h.snapshot(now).cooldown_secs)
                    .fold(f64::MAX, f64::min);
                return Err(RouteError::AllCoolingDown {
                    retry_after: Duration::from_secs_f64(retry_after.min(3600.0)),
                });
            }
            let reasons: Vec<String> = candidates
                .iter()
                .map(|c| match &c.verdict {
                    Verdict::Excluded(w) => format!("`{}` {w}", c.model),
                    _ => String::new(),
                })
                .collect();
            return Err(if reasons.is_empty() {
                RouteError::Config(ConfigError::NoModels)
            } else {
                RouteError::NoCandidate(reasons.join("; "))
            });
        }
        let best = candidates[0].score;
        for (i, c) in candidates.iter_mut().enumerate() {
            if let Verdict::Ranked(_) = c.verdict {
                let p = c.parts;
                let detail = format!(
                    "score {:.3} (fit {:.2}, quality {:.2}, cheapness {:.2}, speed {:.2})",
                    c.score, p.fit, p.quality, p.cheapness, p.speed
                );
                c.verdict = if i == 0 {
                    Verdict::Chosen(format!("highest {detail}"))
                } else {
                    Verdict::Ranked(format!("#{} fallback, {detail} < {best:.3}", i + 1))
                };
            }
        }
        Ok(Decision {
            analysis,
            strategy: strategy.as_str().to_owned(),
            candidates,
            order,
            cached: false,
        })
    }

    /// The replicas of `model` in the order to try them, with their availability.
    fn replicas(&self, model: &str, req: &ChatRequest) -> Vec<usize> {
        let Some(deps) = self.by_name.get(model) else {
            return Vec::new();
        };
        let replicas: Vec<Replica> = deps
            .iter()
            .map(|&i| Replica {
                id: i,
                weight: self.registry.deployments[i].model.weight,
                in_flight: self.health[i].in_flight(),
                ttft_ms: self.health[i].snapshot(Instant::now()).ttft_ms,
            })
            .collect();
        let turn = self.turns.fetch_add(1, Ordering::Relaxed);
        let affinity = (self.balance == BalancePolicy::PrefixAffinity).then(|| affinity_key(req));
        balance::order(
            self.balance,
            &replicas,
            turn,
            affinity,
            self.affinity_imbalance,
            &mut rand::rng(),
        )
        .into_iter()
        .map(|k| deps[k])
        .collect()
    }

    fn count_start(&self, decision: &Decision) {
        self.stats.total.fetch_add(1, Ordering::Relaxed);
        *self
            .stats
            .counts
            .lock()
            .expect("stats lock")
            .strategies
            .entry(decision.strategy.clone())
            .or_default() += 1;
    }

    fn count_end(&self, model: Option<&str>, attempts: &[Attempt], started: Instant) {
        let mut counts = self.stats.counts.lock().expect("stats lock");
        for a in attempts.iter().filter(|a| a.error.is_some()) {
            *counts.failures.entry(a.model.clone()).or_default() += 1;
        }
        match model {
            Some(m) => {
                *counts.picks.entry(m.to_owned()).or_default() += 1;
                self.stats.succeeded.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .latency_us
                    .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
            }
            None => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn record_failure(&self, i: usize, e: &ProviderError) {
        let rate_limited = matches!(e, ProviderError::RateLimited { .. });
        self.health[i].record_failure(
            &self.health_policy,
            Instant::now(),
            rate_limited,
            e.retry_after(),
        );
    }

    /// Runs `req` with failover; returns the first answer.
    pub async fn chat(
        &self,
        req: ChatRequest,
        prefs: &Preferences,
    ) -> Result<Routed<ChatResponse>, RouteError> {
        let decision = self.decide(&req, prefs)?;
        self.count_start(&decision);
        let started = Instant::now();
        let result = self
            .attempt_all(&decision, &req, started, |d, req| Box::pin(d.chat(req)))
            .await;
        match result {
            Ok((i, resp, attempts, _)) => {
                self.health[i].record_success(&self.health_policy, resp.latency, None);
                self.count_end(Some(&resp.model), &attempts, started);
                Ok(Routed {
                    value: resp,
                    decision,
                    attempts,
                })
            }
            Err(e) => {
                self.count_end(None, e.attempts(), started);
                Err(e)
            }
        }
    }

    /// Opens a stream with failover. Once returned, the stream is never retried; its end
    /// (or error) is recorded in the deployment's health.
    pub async fn chat_stream(
        self: &Arc<Self>,
        req: ChatRequest,
        prefs: &Preferences,
    ) -> Result<Routed<EventStream>, RouteError> {
        let decision = self.decide(&req, prefs)?;
        self.count_start(&decision);
        let started = Instant::now();
        let result = self
            .attempt_all(&decision, &req, started, |d, req| {
                Box::pin(d.chat_stream(req))
            })
            .await;
        let (i, mut stream, attempts, in_flight) = match result {
            Ok(ok) => ok,
            Err(e) => {
                self.count_end(None, e.attempts(), started);
                return Err(e);
            }
        };
        let router = self.clone();
        let model = self.registry.deployments[i].model.name.clone();
        let attempts_done = attempts.clone();
        let wrapped = async_stream::stream! {
            let _in_flight = in_flight;
            let mut ttft = None;
            let mut finished = false;
            while let Some(event) = stream.next().await {
                match &event {
                    Ok(StreamEvent::Delta(_)) => { ttft.get_or_insert_with(|| started.elapsed()); }
                    Ok(StreamEvent::Done(_)) => {
                        finished = true;
                        router.health[i].record_success(&router.health_policy, started.elapsed(), ttft);
                        router.count_end(Some(&model), &attempts_done, started);
                    }
                    Ok(StreamEvent::Usage(_)) => {}
                    Err(e) => {
                        finished = true;
                        router.record_failure(i, e);
                        router.count_end(None, &attempts_done, started);
                    }
                }
                yield event;
            }
            if !finished {
                // Ended without a verdict (the upstream closed): not the deployment's success.
                router.health[i].release_probe();
            }
        };
        Ok(Routed {
            value: wrapped.boxed(),
            decision,
            attempts,
        })
    }

    /// Tries each model of the decision, each replica in balance order, until one succeeds.
    async fn attempt_all<T>(
        &self,
        decision: &Decision,
        req: &ChatRequest,
        started: Instant,
        call: impl for<'d> Fn(
            &'d Deployment,
            ChatRequest,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, ProviderError>> + Send + 'd>,
        >,
    ) -> Result<(usize, T, Vec<Attempt>, health::InFlight), RouteError> {
        let deadline = started + self.total_deadline;
        let mut attempts: Vec<Attempt> = Vec::new();
        let mut last: Option<ProviderError> = None;
        let mut cooling = Duration::MAX;
        for model in &decision.order {
            for i in self.replicas(model, req) {
                match self.health[i].availability(Instant::now()) {
                    Availability::CoolingDown(d) => {
                        cooling = cooling.min(d);
                        continue;
                    }
                    Availability::Available | Availability::Probe => {}
                }
                let d = &self.registry.deployments[i];
                let remaining = deadline.saturating_duration_since(Instant::now());
                if remaining.is_zero() {
                    self.health[i].release_probe();
                    return Err(RouteError::Deadline {
                        deadline: self.total_deadline,
                        attempts,
                    });
                }
                let in_flight = self.health[i].start();
                let result = tokio::time::timeout(remaining, call(d, req.clone())).await;
                let mut attempt = Attempt {
                    model: d.model.name.clone(),
                    provider: d.provider().to_owned(),
                    error: None,
                    error_kind: None,
                };
                match result {
                    Ok(Ok(value)) => {
                        attempts.push(attempt);
                        return Ok((i, value, attempts, in_flight));
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(model = %d.model.name, provider = d.provider(), error = %e, "attempt failed");
                        self.record_failure(i, &e);
                        attempt.error = Some(e.to_string());
                        attempt.error_kind = Some(e.kind());
                        attempts.push(attempt);
                        // A request the upstream calls malformed will not fare better elsewhere.
                        if matches!(e, ProviderError::BadRequest { .. }) {
                            return Err(RouteError::Exhausted {
                                attempts,
                                source: e,
                            });
                        }
                        last = Some(e);
                    }
                    Err(_) => {
                        self.health[i].release_probe();
                        attempt.error = Some("request deadline reached".into());
                        attempt.error_kind = Some("timeout");
                        attempts.push(attempt);
                        return Err(RouteError::Deadline {
                            deadline: self.total_deadline,
                            attempts,
                        });
                    }
                }
            }
        }
        match last {
            Some(source) => Err(RouteError::Exhausted { attempts, source }),
            None if cooling < Duration::MAX => Err(RouteError::AllCoolingDown {
                retry_after: cooling,
            }),
            None => Err(RouteError::NoCandidate(
                "no deployment could be tried".into(),
            )),
        }
    }

    /// The routing counters.
    pub fn stats(&self) -> StatsSnapshot {
        let total = self.stats.total.load(Ordering::Relaxed);
        let succeeded = self.stats.succeeded.load(Ordering::Relaxed);
        let failed = self.stats.failed.load(Ordering::Relaxed);
        let counts = self.stats.counts.lock().expect("stats lock");
        StatsSnapshot {
            total_requests: total,
            succeeded,
            failed,
            success_rate: (succeeded + failed > 0)
                .then(|| succeeded as f64 / (succeeded + failed) as f64),
            average_latency_ms: (succeeded > 0).then(|| {
                self.stats.latency_us.load(Ordering::Relaxed) as f64 / succeeded as f64 / 1e3
            }),
            decision_cache_hits: self.stats.cache_hits.load(Ordering::Relaxed),
            strategy_usage: counts.strategies.clone(),
            model_picks: counts.picks.clone(),
            model_failures: counts.failures.clone(),
        }
    }
}

fn tier_quality(tier: u8) -> f32 {
    (f32::from(tier.clamp(1, 5)) - 1.0) / 4.0
}

/// How well a model's declared tasks fit the analysed request.
fn fit(m: &ModelConfig, a: &Analysis) -> f32 {
    let has = |t: Task| m.tasks.contains(&t);
    let mut f: f32 = if has(a.task) {
        1.0
    } else if a.task == Task::Chat || a.task == Task::LongContext {
        0.8
    } else if has(Task::Reasoning) && matches!(a.task, Task::Math | Task::Code) {
        0.6
    } else {
        0.3
    };
    if a.long_context && has(Task::LongContext) {
        f += 0.1;
    }
    f.min(1.0)
}
