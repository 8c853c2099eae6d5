//! Prometheus metrics: requests, latency and TTFT histograms, tokens, errors and in-flight
//! requests, by route and model. Exposed as text on `/metrics`.

use std::sync::atomic::AtomicI64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub model: String,
    pub status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RouteModel {
    pub route: String,
    pub model: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ModelLabel {
    pub model: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct TokenLabels {
    pub model: String,
    /// `input` or `output`.
    pub direction: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ErrorLabels {
    pub route: String,
    pub kind: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RouteLabel {
    pub route: String,
}

fn latency_buckets() -> impl Iterator<Item = f64> {
    [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        60.0,
    ]
    .into_iter()
}

/// Every metric the gateway keeps.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteModel, Histogram>,
    pub ttft: Family<ModelLabel, Histogram>,
    pub tokens: Family<TokenLabels, Counter>,
    pub errors: Family<ErrorLabels, Counter>,
    pub in_flight: Family<RouteLabel, Gauge<i64, AtomicI64>>,
    pub abandoned: Family<RouteLabel, Counter>,
    pub shed: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("llm_gateway");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteModel, Histogram>::new_with_constructor(|| {
            Histogram::new(latency_buckets())
        });
        let ttft = Family::<ModelLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(latency_buckets())
        });
        let tokens = Family::<TokenLabels, Counter>::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let in_flight = Family::<RouteLabel, Gauge<i64, AtomicI64>>::default();
        let shed = Counter::default();
        let abandoned = Family::<RouteLabel, Counter>::default();
        registry.register(
            "requests",
            "Requests handled, by route, model and status",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to the response headers, or to the end of a stream",
            latency.clone(),
        );
        registry.register(
            "ttft_seconds",
            "Time to the first streamed token",
            ttft.clone(),
        );
        registry.register("tokens", "Tokens processed", tokens.clone());
        registry.register(
            "errors",
            "Error responses, by route and kind",
            errors.clone(),
        );
        registry.register(
            "in_flight_requests",
            "Requests being handled",
            in_flight.clone(),
        );
        registry.register(
            "abandoned",
            "Requests whose client went away before the answer or the end of its stream",
            abandoned.clone(),
        );
        registry.register(
            "shed",
            "Requests refused with 503 because the concurrency limit was reached",
            shed.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            ttft,
            tokens,
            errors,
            in_flight,
            abandoned,
            shed,
        }
    }
}

impl Metrics {
    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String");
        out
    }

    pub fn record_usage(&self, model: &str, usage: &crate::types::Usage) {
        for (direction, n) in [
            ("input", usage.input_tokens),
            ("output", usage.output_tokens),
        ] {
            if n > 0 {
                self.tokens
                    .get_or_create(&TokenLabels {
                        model: model.to_owned(),
                        direction,
                    })
                    .inc_by(n.into());
            }
        }
    }
}
