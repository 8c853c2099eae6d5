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

pub use analysis::{Analysis, analyze, estimate_tokens};
pub use balance::{BalancePolicy, Replica, affinity_key};
pub use health::{Availability, Health, HealthPolicy, HealthSnapshot};

use crate::config::{Config, ConfigError, ModelConfig, Task};
use crate::protocol::verbatim::Verbatim;
use crate::providers::{Deployment, EventStream, HttpPolicy, ProviderError, RawAnswer, Registry};
use crate::types::{ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, StreamEvent};

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

/// Where a candidate ended up.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Tried first.
    Chosen,
    /// Tried when the ones ranked above it fail (`rank` 2 is the first fallback).
    Fallback {
        rank: usize,
    },
    Excluded {
        reason: Exclusion,
    },
}

/// Why a model could not take the request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Exclusion {
    /// No usable deployment (e.g. its provider has no key); the text says how to fix it.
    Unusable {
        why: Arc<str>,
    },
    NoVision,
    /// The request asks for something the model cannot carry (tools, reasoning, a JSON
    /// schema, another protocol's fields); the text names the field.
    Cannot {
        why: String,
    },
    ContextTooSmall {
        window: u32,
        needed: u32,
    },
    CoolingDown {
        secs: f64,
    },
    /// Every deployment's key was rejected (401/403); left out until a reload.
    Misconfigured {
        why: String,
    },
}

impl std::fmt::Display for Exclusion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exclusion::Unusable { why } => f.write_str(why),
            Exclusion::NoVision => f.write_str("cannot read images"),
            Exclusion::Cannot { why } => f.write_str(why),
            Exclusion::ContextTooSmall { window, needed } => {
                write!(f, "context window {window} < {needed} tokens needed")
            }
            Exclusion::CoolingDown { secs } => write!(f, "cooling down for {:.0} s", secs.ceil()),
            Exclusion::Misconfigured { why } => {
                write!(f, "{why}; fix the key and reload the configuration")
            }
        }
    }
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
    pub model: Arc<str>,
    pub score: f32,
    pub parts: ScoreParts,
    /// Estimated USD cost of this request on this model.
    pub estimated_cost: f64,
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// The ranked models; shared by every request whose analysis falls in the same bucket while
/// the decision cache holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranking {
    /// The strategy used, or `explicit` when the request named a model.
    pub strategy: &'static str,
    pub candidates: Vec<Candidate>,
    /// Model names in the order they will be tried.
    pub order: Vec<Arc<str>>,
}

/// A routing decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub analysis: Analysis,
    /// Whether the ranking came from the decision cache.
    pub cached: bool,
    #[serde(flatten)]
    pub ranking: Arc<Ranking>,
}

impl Decision {
    pub fn order(&self) -> &[Arc<str>] {
        &self.ranking.order
    }

    /// Why `c` won, lost or was left out, in words.
    pub fn reason(&self, c: &Candidate) -> String {
        let p = c.parts;
        let detail = || {
            format!(
                "score {:.3} (fit {:.2}, quality {:.2}, cheapness {:.2}, speed {:.2})",
                c.score, p.fit, p.quality, p.cheapness, p.speed
            )
        };
        match &c.verdict {
            Verdict::Chosen if self.ranking.strategy == "explicit" => "named in the request".into(),
            Verdict::Chosen => format!("highest {}", detail()),
            Verdict::Fallback { rank } => {
                let best = self.ranking.candidates.first().map_or(0.0, |b| b.score);
                format!("#{rank} fallback, {} < {best:.3}", detail())
            }
            Verdict::Excluded { reason } => reason.to_string(),
        }
    }
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
    strategies: BTreeMap<&'static str, u64>,
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

type CacheKey = (Task, u8, u8, bool, bool, Strategy, u8, usize, u8);
type Cache = HashMap<CacheKey, (Instant, Arc<Ranking>)>;

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
    /// `models`' names, shared by every decision.
    names: Vec<Arc<str>>,
    /// Models that exist in config but have no usable deployment, and why.
    unusable: BTreeMap<String, Arc<str>>,
    default_model: Option<String>,
    strategy: Strategy,
    quality_priority: f32,
    balance: BalancePolicy,
    affinity_imbalance: u32,
    health_policy: HealthPolicy,
    /// Longest wait before retrying a deployment that failed when no other could serve.
    max_retry_wait: Duration,
    total_deadline: Duration,
    cache_ttl: Duration,
    cache: Mutex<Cache>,
    turns: AtomicU64,
    /// Shared with the router a reload replaces, so `/routing/stats` runs on.
    stats: Arc<Stats>,
    /// Index-aligned with `registry.deployments`: what identifies a deployment across reloads
    /// (provider, base URL, upstream id, model name), so its health outlives a reload.
    keys: Vec<String>,
    /// Where new cooldowns are announced (deployment key, until in Unix ms), for other replicas.
    cooldown_sink: Mutex<Option<tokio::sync::mpsc::UnboundedSender<(String, u64)>>>,
}

impl Router {
    /// Builds the router (and one pooled client per provider) from the configuration.
    pub fn new(config: &Config) -> Result<Router, ConfigError> {
        Self::with_backends(config, &BTreeMap::new())
    }

    /// A router whose providers named in `backends` use those backends (in-process engines).
    pub fn with_backends(
        config: &Config,
        backends: &BTreeMap<String, Arc<dyn crate::providers::Backend>>,
    ) -> Result<Router, ConfigError> {
        Self::rebuild(config, backends, None)
    }

    /// A router for a new configuration that keeps `previous`'s health (cooldowns, latency
    /// averages) for every deployment both have, and its counters. A rejected key is tried
    /// again: the reload may have fixed it.
    pub fn rebuild(
        config: &Config,
        backends: &BTreeMap<String, Arc<dyn crate::providers::Backend>>,
        previous: Option<&Router>,
    ) -> Result<Router, ConfigError> {
        let registry = Registry::with_backends(config, backends)?;
        let r = &config.settings.router;
        let keys: Vec<String> = registry
            .deployments
            .iter()
            .map(|d| {
                let base_url = config
                    .settings
                    .providers
                    .get(d.provider())
                    .map_or("", |p| p.base_url.as_str());
                format!(
                    "{}\u{1f}{base_url}\u{1f}{}\u{1f}{}",
                    d.provider(),
                    d.model.upstream,
                    d.model.name
                )
            })
            .collect();
        let health = keys
            .iter()
            .map(|key| {
                let kept = previous.and_then(|p| {
                    p.keys
                        .iter()
                        .position(|k| k == key)
                        .map(|i| p.health[i].clone())
                });
                match kept {
                    Some(h) => {
                        h.clear_misconfigured();
                        h
                    }
                    None => Arc::new(Health::default()),
                }
            })
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
                    Arc::from(crate::providers::missing_key(config, &m.provider).to_string()),
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
        let names = models.iter().map(|m| Arc::from(m.name.as_str())).collect();
        Ok(Router {
            registry,
            health,
            by_name,
            models,
            names,
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
            max_retry_wait: secs(r.max_retry_wait_secs, Duration::from_secs(2)),
            total_deadline,
            cache_ttl: Duration::from_millis(r.decision_cache_ttl_ms.unwrap_or(2000)),
            cache: Mutex::new(HashMap::new()),
            turns: AtomicU64::new(0),
            stats: previous.map_or_else(Arc::default, |p| p.stats.clone()),
            keys,
            cooldown_sink: Mutex::new(None),
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
            return self.explicit(&req.model, req, analysis).map(Arc::new);
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
            needs(req),
        );
        let now = Instant::now();
        let hit = self
            .cache
            .lock()
            .expect("cache lock")
            .get(&key)
            .filter(|(at, _)| now.duration_since(*at) < self.cache_ttl)
            .map(|(_, ranking)| ranking.clone());
        if let Some(ranking) = hit {
            self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Arc::new(Decision {
                analysis,
                cached: true,
                ranking,
            }));
        }
        let ranking = Arc::new(self.rank(req, &analysis, strategy, q, now)?);
        let mut cache = self.cache.lock().expect("cache lock");
        if cache.len() > 4096 {
            cache.clear();
        }
        cache.insert(key, (now, ranking.clone()));
        Ok(Arc::new(Decision {
            analysis,
            cached: false,
            ranking,
        }))
    }

    /// Why no deployment of model `name` can take `req`, when none can.
    fn refusal_of(&self, name: &str, req: &ChatRequest) -> Option<ProviderError> {
        let deps = self.by_name.get(name)?;
        let mut first = None;
        for &i in deps {
            match self.registry.deployments[i].refusal(req) {
                None => return None,
                Some(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        first
    }

    fn explicit(
        &self,
        name: &str,
        req: &ChatRequest,
        analysis: Analysis,
    ) -> Result<Decision, RouteError> {
        let Some(i) = self.models.iter().position(|m| m.name == name) else {
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
        };
        if let Some(why) = self.unusable.get(name) {
            return Err(ConfigError::Usage(why.to_string()).into());
        }
        if self.models[i].tasks.contains(&Task::Embedding) {
            return Err(RouteError::NoCandidate(format!(
                "`{name}` is an embedding model: it serves `/v1/embeddings`, not chat; name a chat model"
            )));
        }
        if let Some(source) = self.refusal_of(name, req) {
            return Err(RouteError::Exhausted {
                attempts: Vec::new(),
                source,
            });
        }
        let m = &self.models[i];
        let ranking = Ranking {
            strategy: "explicit",
            candidates: vec![Candidate {
                model: self.names[i].clone(),
                score: 1.0,
                parts: ScoreParts {
                    fit: fit(m, &analysis),
                    quality: tier_quality(m.tier),
                    cheapness: 1.0,
                    speed: 1.0,
                },
                estimated_cost: m.cost(analysis.input_tokens, 512),
                verdict: Verdict::Chosen,
            }],
            order: vec![self.names[i].clone()],
        };
        Ok(Decision {
            analysis,
            cached: false,
            ranking: Arc::new(ranking),
        })
    }

    fn rank(
        &self,
        req: &ChatRequest,
        analysis: &Analysis,
        strategy: Strategy,
        quality_priority: f32,
        now: Instant,
    ) -> Result<Ranking, RouteError> {
        let max_tokens = req.max_tokens;
        // Expected output grows with complexity; `max_tokens` bounds it.
        let expected_out = max_tokens
            .unwrap_or(u32::MAX)
            .min(128 + (analysis.complexity * 1500.0) as u32);
        let needed = analysis.input_tokens + expected_out.min(1024);
        let mut rows: Vec<(usize, f64, Option<f64>, Option<Exclusion>)> =
            Vec::with_capacity(self.models.len());
        let mut soonest_back = f64::MAX;
        for (mi, m) in self.models.iter().enumerate() {
            let cost = m.cost(analysis.input_tokens, expected_out);
            let mut latency: Option<f64> = None;
            let excluded = if let Some(why) = self.unusable.get(&m.name) {
                Some(Exclusion::Unusable { why: why.clone() })
            } else if m.tasks.contains(&Task::Embedding) {
                Some(Exclusion::Cannot {
                    why: "is an embedding model (it serves `/v1/embeddings`)".into(),
                })
            } else if analysis.vision && !m.tasks.contains(&Task::Vision) {
                Some(Exclusion::NoVision)
            } else if let Some(e) = self.refusal_of(&m.name, req) {
                Some(Exclusion::Cannot {
                    why: refusal_text(&e),
                })
            } else if m.context_window < needed {
                Some(Exclusion::ContextTooSmall {
                    window: m.context_window,
                    needed,
                })
            } else {
                let mut cooling = f64::MAX;
                let mut any = false;
                let mut misconfigured = None;
                for &i in &self.by_name[&m.name] {
                    let snap = self.health[i].snapshot(now);
                    match (snap.misconfigured, snap.cooldown_secs) {
                        (Some(why), _) => {
                            misconfigured.get_or_insert(why);
                        }
                        (None, Some(s)) => cooling = cooling.min(s),
                        (None, None) => any = true,
                    }
                    let l = if strategy == Strategy::Fastest {
                        snap.ttft_ms.or(snap.latency_ms)
                    } else {
                        snap.latency_ms
                    };
                    if let Some(l) = l {
                        latency = Some(latency.map_or(l, |x| x.min(l)));
                    }
                }
                if any {
                    None
                } else if cooling < f64::MAX {
                    soonest_back = soonest_back.min(cooling);
                    Some(Exclusion::CoolingDown { secs: cooling })
                } else {
                    Some(Exclusion::Misconfigured {
                        why: misconfigured.unwrap_or_default(),
                    })
                }
            };
            rows.push((mi, cost, latency, excluded));
        }
        let live = || rows.iter().filter(|r| r.3.is_none());
        let max_cost = live().map(|r| r.1).fold(0.0, f64::max);
        let max_latency = live().filter_map(|r| r.2).fold(0.0, f64::max);
        let q = (quality_priority + (analysis.complexity - 0.5) * 0.5).clamp(0.0, 1.0);
        let mut candidates: Vec<Candidate> = rows
            .into_iter()
            .map(|(mi, cost, latency, excluded)| {
                let m = &self.models[mi];
                let parts = ScoreParts {
                    fit: fit(m, analysis),
                    quality: tier_quality(m.tier),
                    cheapness: if max_cost > 0.0 {
                        (1.0 - cost / max_cost) as f32
                    } else {
                        1.0
                    },
                    speed: match latency {
                        Some(l) if max_latency > 0.0 => (1.0 - l / max_latency) as f32 * 0.9 + 0.1,
                        // Unmeasured: neutral, so new models get tried.
                        _ => 0.5,
                    },
                };
                let score = match (&excluded, strategy) {
                    (Some(_), _) => 0.0,
                    (None, Strategy::Auto) => {
                        parts.fit
                            * (q * parts.quality
                                + (1.0 - q) * (0.6 * parts.cheapness + 0.4 * parts.speed))
                    }
                    (None, Strategy::Fastest) => 0.9 * parts.speed + 0.1 * parts.fit,
                    (None, Strategy::Cheapest) => 0.9 * parts.cheapness + 0.1 * parts.fit,
                    (None, Strategy::Quality) => 0.9 * parts.quality + 0.1 * parts.fit,
                };
                Candidate {
                    model: self.names[mi].clone(),
                    score,
                    parts,
                    estimated_cost: cost,
                    verdict: match excluded {
                        Some(reason) => Verdict::Excluded { reason },
                        None => Verdict::Chosen,
                    },
                }
            })
            .collect();
        // Stable: equal scores keep config order; excluded ones go last.
        let excluded = |c: &Candidate| matches!(c.verdict, Verdict::Excluded { .. });
        candidates.sort_by(|a, b| {
            excluded(a)
                .cmp(&excluded(b))
                .then(b.score.total_cmp(&a.score))
        });
        let mut order = Vec::new();
        for (rank, c) in candidates.iter_mut().enumerate() {
            if !excluded(c) {
                if rank > 0 {
                    c.verdict = Verdict::Fallback { rank: rank + 1 };
                }
                order.push(c.model.clone());
            }
        }
        if order.is_empty() {
            if soonest_back < f64::MAX {
                return Err(RouteError::AllCoolingDown {
                    retry_after: Duration::from_secs_f64(soonest_back.min(3600.0)),
                });
            }
            if candidates.is_empty() {
                return Err(ConfigError::NoModels.into());
            }
            let reasons: Vec<String> = candidates
                .iter()
                .filter_map(|c| match &c.verdict {
                    Verdict::Excluded { reason } => Some(format!("`{}` {reason}", c.model)),
                    _ => None,
                })
                .collect();
            return Err(RouteError::NoCandidate(reasons.join("; ")));
        }
        Ok(Ranking {
            strategy: strategy.as_str(),
            candidates,
            order,
        })
    }

    /// The replicas of `model` in the order to try them, with their availability.
    pub fn replicas(&self, model: &str, req: &ChatRequest) -> Vec<usize> {
        self.replicas_by(model, self.affinity_of(req))
    }

    /// The prefix-affinity key of `req`, when replicas are balanced by it.
    fn affinity_of(&self, req: &ChatRequest) -> Option<u64> {
        (self.balance == BalancePolicy::PrefixAffinity).then(|| affinity_key(req))
    }

    /// [`Router::replicas`] with the affinity key already worked out.
    fn replicas_by(&self, model: &str, affinity: Option<u64>) -> Vec<usize> {
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
            .entry(decision.ranking.strategy)
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

    /// A request for the model at `mi` alone (embeddings, native Responses requests).
    fn only(&self, mi: usize) -> Arc<Decision> {
        Arc::new(Decision {
            analysis: analyze(&ChatRequest::default()),
            cached: false,
            ranking: Arc::new(Ranking {
                strategy: "explicit",
                candidates: Vec::new(),
                order: vec![self.names[mi].clone()],
            }),
        })
    }

    /// Records an answer from deployment `i`: its health, the attempt's probe, the counters.
    #[allow(clippy::too_many_arguments)]
    fn answered(
        &self,
        i: usize,
        attempt: &mut health::InFlight,
        latency: Duration,
        ttft: Option<Duration>,
        model: &str,
        attempts: &[Attempt],
        started: Instant,
    ) {
        self.health[i].record_success(&self.health_policy, latency, ttft);
        attempt.settle();
        self.count_end(Some(model), attempts, started);
    }

    /// Records a failed attempt in the deployment's health, as far as it is the deployment's
    /// doing, and settles the attempt's probe.
    fn record_failure(&self, i: usize, e: &ProviderError, attempt: &mut health::InFlight) {
        attempt.settle();
        match e {
            // The request's doing, not the deployment's: refused before sending, or called
            // malformed (400, 404, 413, 422 …) by the upstream. Another caller's request
            // would have fared no worse.
            ProviderError::Unsupported { .. } | ProviderError::BadRequest { .. } => return,
            // A rejected key: misconfigured until a reload, not cooling down.
            ProviderError::Auth {
                status, message, ..
            } => {
                if self.health[i].mark_misconfigured(*status, message) {
                    let d = &self.registry.deployments[i];
                    tracing::error!(
                        model = %d.model.name,
                        provider = d.provider(),
                        status,
                        error = %e,
                        "the upstream rejected the API key; this deployment is left out until the configuration is reloaded"
                    );
                }
                return;
            }
            _ => {}
        }
        let rate_limited = matches!(
            e,
            ProviderError::RateLimited { .. } | ProviderError::Overloaded { .. }
        );
        let before = self.health[i].cooldown_until();
        let now = Instant::now();
        self.health[i].record_failure(&self.health_policy, now, rate_limited, e.retry_after());
        let after = self.health[i].cooldown_until();
        if let Some(until) = after
            && after != before
            && let Some(sink) = self.cooldown_sink.lock().expect("sink lock").as_ref()
        {
            let until_ms =
                crate::store::now_ms() + until.saturating_duration_since(now).as_millis() as u64;
            let _ = sink.send((self.deployment_key(i), until_ms));
        }
    }

    /// A name for deployment `i` that is the same on every replica with the same config.
    pub fn deployment_key(&self, i: usize) -> String {
        let d = &self.registry.deployments[i];
        format!("{}/{}/{}", d.provider(), d.model.upstream, d.model.name)
    }

    /// Sends every cooldown this router starts to `sink`.
    pub fn announce_cooldowns(&self, sink: tokio::sync::mpsc::UnboundedSender<(String, u64)>) {
        *self.cooldown_sink.lock().expect("sink lock") = Some(sink);
    }

    /// Applies cooldowns announced by other replicas (deployment key → until, Unix ms).
    pub fn apply_remote_cooldowns(&self, cooldowns: &HashMap<String, u64>) {
        if cooldowns.is_empty() {
            return;
        }
        let now_ms = crate::store::now_ms();
        let now = Instant::now();
        for i in 0..self.health.len() {
            if let Some(&until_ms) = cooldowns.get(&self.deployment_key(i))
                && until_ms > now_ms
            {
                self.health[i]
                    .apply_remote_cooldown(now + Duration::from_millis(until_ms - now_ms));
            }
        }
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
        let affinity = self.affinity_of(&req);
        let result = self
            .attempt_all(&decision, &req, affinity, started, |d, req| {
                Box::pin(d.chat(req))
            })
            .await;
        self.whole(decision, result, started)
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
        let affinity = self.affinity_of(&req);
        let result = self
            .attempt_all(&decision, &req, affinity, started, |d, req| {
                Box::pin(d.chat_stream(req))
            })
            .await;
        self.watch(decision, result, started)
    }

    /// The model a request can be forwarded to as its client wrote it (see
    /// [`Verbatim`]): a configured model named explicitly, every deployment of which
    /// [takes it](Deployment::takes_verbatim). `None`: the request is decoded and routed as
    /// usual (which also gives every error its message).
    pub fn verbatim_model(&self, req: &Verbatim) -> Option<usize> {
        if !Self::is_explicit(&req.model) || self.unusable.contains_key(&req.model) {
            return None;
        }
        let mi = self.models.iter().position(|m| m.name == req.model)?;
        if self.models[mi].tasks.contains(&Task::Embedding) {
            return None;
        }
        let deps = self.by_name.get(&req.model)?;
        (!deps.is_empty()
            && deps
                .iter()
                .all(|&i| self.registry.deployments[i].takes_verbatim(req)))
        .then_some(mi)
    }

    /// [`Router::chat`] for a request forwarded as written to model `mi` (from
    /// [`Router::verbatim_model`]).
    pub async fn forward(
        &self,
        mi: usize,
        req: Arc<Verbatim>,
    ) -> Result<Routed<ChatResponse>, RouteError> {
        let decision = self.only(mi);
        self.count_start(&decision);
        let started = Instant::now();
        let affinity = self.verbatim_affinity(&req);
        let result = self
            .attempt_all(&decision, &req, affinity, started, |d, req| {
                Box::pin(d.forward(req))
            })
            .await;
        self.whole(decision, result, started)
    }

    /// [`Router::chat_stream`] for a request forwarded as written to model `mi`.
    pub async fn forward_stream(
        self: &Arc<Self>,
        mi: usize,
        req: Arc<Verbatim>,
    ) -> Result<Routed<EventStream>, RouteError> {
        let decision = self.only(mi);
        self.count_start(&decision);
        let started = Instant::now();
        let affinity = self.verbatim_affinity(&req);
        let result = self
            .attempt_all(&decision, &req, affinity, started, |d, req| {
                Box::pin(d.forward_stream(req))
            })
            .await;
        self.watch(decision, result, started)
    }

    fn verbatim_affinity(&self, req: &Verbatim) -> Option<u64> {
        (self.balance == BalancePolicy::PrefixAffinity).then(|| balance::verbatim_affinity_key(req))
    }

    /// Records a whole answer (or the failure) of an attempted decision.
    fn whole(
        &self,
        decision: Arc<Decision>,
        result: Result<(usize, ChatResponse, Vec<Attempt>, health::InFlight), RouteError>,
        started: Instant,
    ) -> Result<Routed<ChatResponse>, RouteError> {
        match result {
            Ok((i, resp, attempts, mut in_flight)) => {
                // A whole answer's first token arrives with its last: its latency is its TTFT.
                let (latency, model) = (resp.latency, resp.model.as_str());
                self.answered(
                    i,
                    &mut in_flight,
                    latency,
                    Some(latency),
                    model,
                    &attempts,
                    started,
                );
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

    /// An opened stream that records its end (or error) in the deployment's health.
    fn watch(
        self: &Arc<Self>,
        decision: Arc<Decision>,
        result: Result<(usize, EventStream, Vec<Attempt>, health::InFlight), RouteError>,
        started: Instant,
    ) -> Result<Routed<EventStream>, RouteError> {
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
        // The guard travels with the stream: dropped before a verdict (the client went away,
        // the upstream closed early), it frees the probe slot if this was the probe.
        let wrapped = async_stream::stream! {
            let mut in_flight = in_flight;
            let mut ttft = None;
            while let Some(event) = stream.next().await {
                match &event {
                    Ok(StreamEvent::Done(_)) => {
                        router.answered(i, &mut in_flight, started.elapsed(), ttft, &model, &attempts_done, started);
                    }
                    Ok(e) => {
                        if e.is_output() {
                            ttft.get_or_insert_with(|| started.elapsed());
                        }
                    }
                    Err(e) => {
                        router.record_failure(i, e, &mut in_flight);
                        router.count_end(None, &attempts_done, started);
                    }
                }
                yield event;
            }
        };
        Ok(Routed {
            value: wrapped.boxed(),
            decision,
            attempts,
        })
    }

    /// Tries each model of the decision, each replica in balance order, until one succeeds.
    ///
    /// Retries belong here, not to the HTTP client: a failure fails over to the next candidate
    /// at once. Only when every candidate has been tried does a deployment that may recover
    /// (a 5xx, a timeout, a refused connection) get another attempt, after a backoff capped
    /// by `max_retry_wait_secs`, up to its provider's `max_retries`. A 429 is never retried
    /// here: its `Retry-After` starts the deployment's cooldown, and the caller gets the 429.
    async fn attempt_all<R: Clone, T>(
        &self,
        decision: &Decision,
        req: &R,
        affinity: Option<u64>,
        started: Instant,
        call: impl for<'d> Fn(
            &'d Deployment,
            R,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, ProviderError>> + Send + 'd>,
        >,
    ) -> Result<(usize, T, Vec<Attempt>, health::InFlight), RouteError> {
        let deadline = started + self.total_deadline;
        let mut tries = Tries {
            attempts: Vec::new(),
            last: None,
            cooling: Duration::MAX,
            misconfigured: None,
        };
        let mut again: Vec<usize> = Vec::new();
        for model in decision.order() {
            for i in self.replicas_by(model, affinity) {
                match self.attempt(i, req, deadline, &call, &mut tries).await? {
                    Step::Done(done) => return Ok(done),
                    Step::Failed { may_recover: true } => again.push(i),
                    Step::Failed { .. } | Step::Skipped => {}
                }
            }
        }
        // Nothing else can serve: the deployments that may recover get another attempt each.
        let mut round = 0;
        loop {
            round += 1;
            again.retain(|&i| round <= self.registry.deployments[i].retry.max_retries);
            if again.is_empty() {
                break;
            }
            let wait = self.registry.deployments[again[0]]
                .retry
                .backoff(round)
                .min(self.max_retry_wait);
            if Instant::now() + wait >= deadline {
                break;
            }
            tokio::time::sleep(wait).await;
            let mut next = Vec::new();
            for i in again {
                match self.attempt(i, req, deadline, &call, &mut tries).await? {
                    Step::Done(done) => return Ok(done),
                    Step::Failed { may_recover: true } => next.push(i),
                    Step::Failed { .. } | Step::Skipped => {}
                }
            }
            again = next;
        }
        let Tries {
            attempts,
            last,
            cooling,
            misconfigured,
        } = tries;
        match last.or(misconfigured) {
            Some(source) => Err(RouteError::Exhausted { attempts, source }),
            None if cooling < Duration::MAX => Err(RouteError::AllCoolingDown {
                retry_after: cooling,
            }),
            None => Err(RouteError::NoCandidate(
                "no deployment could be tried".into(),
            )),
        }
    }

    /// One attempt on deployment `i`, recorded in `tries`; an error when the request must not
    /// go on (the deadline passed, or the upstream called it malformed).
    async fn attempt<R: Clone, T>(
        &self,
        i: usize,
        req: &R,
        deadline: Instant,
        call: &impl for<'d> Fn(
            &'d Deployment,
            R,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, ProviderError>> + Send + 'd>,
        >,
        tries: &mut Tries,
    ) -> Result<Step<T>, RouteError> {
        let d = &self.registry.deployments[i];
        let mut in_flight = match self.health[i].admit(Instant::now()) {
            Ok(guard) => guard,
            Err(wait) if wait == Duration::MAX => {
                if let Some((status, message)) = self.health[i].misconfigured() {
                    tries.misconfigured.get_or_insert(ProviderError::Auth {
                        provider: d.provider().to_owned(),
                        status,
                        message,
                    });
                }
                return Ok(Step::Skipped);
            }
            Err(wait) => {
                tries.cooling = tries.cooling.min(wait);
                return Ok(Step::Skipped);
            }
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(RouteError::Deadline {
                deadline: self.total_deadline,
                attempts: std::mem::take(&mut tries.attempts),
            });
        }
        let result = tokio::time::timeout(remaining, call(d, req.clone())).await;
        let mut attempt = Attempt {
            model: d.model.name.clone(),
            provider: d.provider().to_owned(),
            error: None,
            error_kind: None,
        };
        match result {
            Ok(Ok(value)) => {
                tries.attempts.push(attempt);
                Ok(Step::Done((
                    i,
                    value,
                    std::mem::take(&mut tries.attempts),
                    in_flight,
                )))
            }
            Ok(Err(e)) => {
                tracing::debug!(model = %d.model.name, provider = d.provider(), error = %e, "attempt failed");
                self.record_failure(i, &e, &mut in_flight);
                attempt.error = Some(e.to_string());
                attempt.error_kind = Some(e.kind());
                tries.attempts.push(attempt);
                // A request the upstream calls malformed will not fare better elsewhere
                // (one a deployment refused before sending may suit the next one).
                if matches!(e, ProviderError::BadRequest { .. }) {
                    return Err(RouteError::Exhausted {
                        attempts: std::mem::take(&mut tries.attempts),
                        source: e,
                    });
                }
                let may_recover = may_recover(&e);
                tries.last = Some(e);
                Ok(Step::Failed { may_recover })
            }
            Err(_) => {
                attempt.error = Some("request deadline reached".into());
                attempt.error_kind = Some("timeout");
                tries.attempts.push(attempt);
                Err(RouteError::Deadline {
                    deadline: self.total_deadline,
                    attempts: std::mem::take(&mut tries.attempts),
                })
            }
        }
    }

    /// Whether `/v1/responses` requests for `model` go to its providers' own Responses API:
    /// a named model (not `auto`) whose every usable deployment is on a provider with
    /// `responses = true`.
    pub fn responses_native(&self, model: &str) -> bool {
        Self::is_explicit(model)
            && self.by_name.get(model).is_some_and(|deps| {
                !deps.is_empty()
                    && deps
                        .iter()
                        .all(|&i| self.registry.deployments[i].responses_native)
            })
    }

    /// Whether any deployment is on a provider with `responses = true`.
    pub fn any_responses_native(&self) -> bool {
        self.registry.deployments.iter().any(|d| d.responses_native)
    }

    /// A Responses API request forwarded as it came to `model`'s native deployments (see
    /// [`Router::responses_native`]), failing over between them like chat; the answer (or
    /// its event stream) comes back untouched. A stream's end or error is recorded in the
    /// deployment's health.
    pub async fn forward_responses(
        self: &Arc<Self>,
        model: &str,
        body: serde_json::Value,
    ) -> Result<Routed<RawAnswer>, RouteError> {
        let mi = self
            .models
            .iter()
            .position(|m| m.name == model)
            .ok_or_else(|| {
                RouteError::NoCandidate(format!("`{model}` has no native Responses deployment"))
            })?;
        let decision = self.only(mi);
        self.count_start(&decision);
        let started = Instant::now();
        let result = self
            .attempt_all(&decision, &body, None, started, |d, body| {
                Box::pin(d.responses(body))
            })
            .await;
        let (i, answer, attempts, mut in_flight) = match result {
            Ok(ok) => ok,
            Err(e) => {
                self.count_end(None, e.attempts(), started);
                return Err(e);
            }
        };
        let value = match answer {
            RawAnswer::Whole(bytes) => {
                let latency = started.elapsed();
                self.answered(
                    i,
                    &mut in_flight,
                    latency,
                    Some(latency),
                    model,
                    &attempts,
                    started,
                );
                RawAnswer::Whole(bytes)
            }
            RawAnswer::Stream(mut stream) => {
                let router = self.clone();
                let name = model.to_owned();
                let done_attempts = attempts.clone();
                RawAnswer::Stream(
                    async_stream::stream! {
                        let mut in_flight = in_flight;
                        let mut ttft = None;
                        let mut failed = false;
                        while let Some(chunk) = stream.next().await {
                            match &chunk {
                                Ok(_) => {
                                    ttft.get_or_insert_with(|| started.elapsed());
                                }
                                Err(e) => {
                                    failed = true;
                                    router.record_failure(i, e, &mut in_flight);
                                    router.count_end(None, &done_attempts, started);
                                }
                            }
                            yield chunk;
                        }
                        if !failed {
                            router.answered(i, &mut in_flight, started.elapsed(), ttft, &name, &done_attempts, started);
                        }
                    }
                    .boxed(),
                )
            }
        };
        Ok(Routed {
            value,
            decision,
            attempts,
        })
    }

    /// Vectors from an embedding model (`req.model`, or the first embedding model for `auto`
    /// or none), its replicas failing over like chat. A chat model is a 400 naming the
    /// embedding models there are.
    pub async fn embed(&self, req: EmbedRequest) -> Result<Routed<EmbedResponse>, RouteError> {
        let embedding: Vec<&str> = self
            .models
            .iter()
            .filter(|m| m.tasks.contains(&Task::Embedding))
            .map(|m| m.name.as_str())
            .collect();
        let listed = || {
            if embedding.is_empty() {
                "none is configured: add one with the task `embedding` (e.g. `text-embedding-3-small` from the `openai` preset)".to_owned()
            } else {
                format!("embedding models: {}", embedding.join(", "))
            }
        };
        let name = if Self::is_explicit(&req.model) {
            req.model.clone()
        } else {
            match embedding.first() {
                Some(first) => (*first).to_owned(),
                None => {
                    return Err(RouteError::NoCandidate(format!(
                        "no model can make embeddings; {}",
                        listed()
                    )));
                }
            }
        };
        let Some(mi) = self.models.iter().position(|m| m.name == name) else {
            return Err(ConfigError::UnknownModel {
                name,
                available: embedding.join(", "),
            }
            .into());
        };
        if !self.models[mi].tasks.contains(&Task::Embedding) {
            return Err(RouteError::NoCandidate(format!(
                "`{name}` is a chat model and makes no embeddings; {}",
                listed()
            )));
        }
        if let Some(why) = self.unusable.get(&name) {
            return Err(ConfigError::Usage(why.to_string()).into());
        }
        let decision = self.only(mi);
        self.count_start(&decision);
        let started = Instant::now();
        let result = self
            .attempt_all(&decision, &req, None, started, |d, req| {
                Box::pin(d.embed(req))
            })
            .await;
        match result {
            Ok((i, resp, attempts, mut in_flight)) => {
                let (latency, model) = (resp.latency, resp.model.as_str());
                self.answered(i, &mut in_flight, latency, None, model, &attempts, started);
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
            strategy_usage: counts
                .strategies
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            model_picks: counts.picks.clone(),
            model_failures: counts.failures.clone(),
        }
    }
}

/// What [`Router::attempt_all`] has gathered so far.
struct Tries {
    attempts: Vec<Attempt>,
    /// The latest failure.
    last: Option<ProviderError>,
    /// The shortest cooldown of a deployment skipped for it.
    cooling: Duration,
    /// A rejected key of a deployment skipped for it.
    misconfigured: Option<ProviderError>,
}

/// Whether the same deployment may answer if asked again: a server error, a timeout before
/// the answer, a refused connection. Not a 429 (its cooldown says when), not a garbled or
/// refused answer.
fn may_recover(e: &ProviderError) -> bool {
    matches!(
        e,
        ProviderError::Connect { .. }
            | ProviderError::Upstream { .. }
            | ProviderError::Timeout { .. }
    ) && e.is_retriable()
}

/// How one attempt went.
enum Step<T> {
    Done((usize, T, Vec<Attempt>, health::InFlight)),
    /// Not sent: cooling down or misconfigured.
    Skipped,
    Failed {
        may_recover: bool,
    },
}

/// What a request needs beyond text, as bits for the decision cache's key: tools, reasoning,
/// a JSON schema, and the protocol it came in (whose own fields, blocks and tools only that
/// protocol's providers take).
fn needs(req: &ChatRequest) -> u8 {
    let origin = req.passthrough.as_ref().map_or(0, |(p, _)| *p as u8 + 1);
    u8::from(req.uses_tools())
        | u8::from(req.wants_reasoning()) << 1
        | u8::from(req.wants_json_schema()) << 2
        | origin << 3
}

/// An [`ProviderError::Unsupported`] as an exclusion reason.
fn refusal_text(e: &ProviderError) -> String {
    match e {
        ProviderError::Unsupported { field, reason, .. } => {
            format!("cannot take `{field}`: {reason}")
        }
        other => other.to_string(),
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
