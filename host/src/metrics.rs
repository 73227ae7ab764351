//! Prometheus metrics, recorded where things happen and served by
//! `sluice serve` at `/metrics`.
//!
//! The metrics live in one process-wide registry ([`get`]), so the plugin
//! runtime, the renderers and the service record into it without a
//! handle threaded through every call (a CLI run records too, and never
//! serves them). Values that already exist elsewhere (the apps and their
//! statuses, the render cache, the Git cache) are read when scraped
//! instead of being copied on every change: [`Scrape`] adds them to one
//! exposition.
//!
//! The crate is [`prometheus`] (the Prometheus text format 0.0.4, which
//! `promtool check metrics` validates; the OpenMetrics encoders name a
//! counter's family without its `_total`, which promtool 2.x reads as an
//! untyped metric without help) with its process collector: CPU seconds,
//! resident and virtual memory, open and maximum file descriptors, start
//! time.

use prometheus::core::Collector;
use prometheus::{
    Encoder as _, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::sync::OnceLock;

/// The metrics recorded as things happen.
pub struct Metrics {
    registry: Registry,
    /// `sluice_app_sync_total{name,phase}`: syncs by how they ended
    /// (`Succeeded`, `Failed`, `Error`).
    pub app_sync: IntCounterVec,
    /// `sluice_app_reconcile_duration_seconds`: one operation, end to end.
    pub reconcile: Histogram,
    /// `sluice_git_fetch_duration_seconds{repo}`: resolving an app's
    /// source (ref listing, and a fetch when the commit is new; shared
    /// resolutions take about no time).
    pub git_fetch: HistogramVec,
    /// `sluice_render_duration_seconds{renderer}`: renders performed
    /// (renders skipped by the read-set cache are not observed; see
    /// `sluice_renders_reused_total`).
    pub render: HistogramVec,
    /// `sluice_plugin_calls_total{plugin,result}`: plugin calls by result:
    /// `ok`, `render_error` (the plugin refused its input), `timeout`,
    /// `memory` (killed at the memory limit), `output_limit`, `trap`,
    /// `error`.
    pub plugin_calls: IntCounterVec,
    /// `sluice_selfheal_total{name}`: drifts fixed by self-heal.
    pub selfheal: IntCounterVec,
    /// `sluice_webhook_requests_total{provider,result}`: webhooks by
    /// result: `push`, `ignored`, `refused`, `malformed`, `too_large`.
    pub webhook: IntCounterVec,
}

/// Buckets for durations from 5 ms to 5 min.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

fn build() -> Result<Metrics, prometheus::Error> {
    let registry = Registry::new();
    let histogram =
        |name: &str, help: &str| HistogramOpts::new(name, help).buckets(BUCKETS.to_vec());
    let m = Metrics {
        app_sync: IntCounterVec::new(
            Opts::new("sluice_app_sync_total", "Syncs by app and how they ended."),
            &["name", "phase"],
        )?,
        reconcile: Histogram::with_opts(histogram(
            "sluice_app_reconcile_duration_seconds",
            "Time one operation on one app took, end to end.",
        ))?,
        git_fetch: HistogramVec::new(
            histogram(
                "sluice_git_fetch_duration_seconds",
                "Time resolving an app's Git source took (ref listing, fetch when needed).",
            ),
            &["repo"],
        )?,
        render: HistogramVec::new(
            histogram(
                "sluice_render_duration_seconds",
                "Time a render took, by renderer.",
            ),
            &["renderer"],
        )?,
        plugin_calls: IntCounterVec::new(
            Opts::new(
                "sluice_plugin_calls_total",
                "Plugin calls by plugin and result.",
            ),
            &["plugin", "result"],
        )?,
        selfheal: IntCounterVec::new(
            Opts::new(
                "sluice_selfheal_total",
                "Drifts fixed by self-heal, by app.",
            ),
            &["name"],
        )?,
        webhook: IntCounterVec::new(
            Opts::new(
                "sluice_webhook_requests_total",
                "Webhook requests by provider and result.",
            ),
            &["provider", "result"],
        )?,
        registry,
    };
    let collectors: [Box<dyn Collector>; 7] = [
        Box::new(m.app_sync.clone()),
        Box::new(m.reconcile.clone()),
        Box::new(m.git_fetch.clone()),
        Box::new(m.render.clone()),
        Box::new(m.plugin_calls.clone()),
        Box::new(m.selfheal.clone()),
        Box::new(m.webhook.clone()),
    ];
    for c in collectors {
        m.registry.register(c)?;
    }
    #[cfg(target_os = "linux")]
    m.registry.register(Box::new(
        prometheus::process_collector::ProcessCollector::for_self(),
    ))?;
    Ok(m)
}

/// The process-wide metrics.
pub fn get() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(|| {
        // Every name and label set above is fixed and valid, and each is
        // registered once: building cannot fail.
        build().expect("the metric definitions are valid")
    })
}

/// Count a plugin call by its result.
pub fn plugin_call<T, E>(plugin: &str, result: &Result<Result<T, E>, crate::plugin::PluginError>) {
    use crate::plugin::PluginError as P;
    let label = match result {
        Ok(Ok(_)) => "ok",
        Ok(Err(_)) => "render_error",
        Err(P::Timeout { .. }) => "timeout",
        Err(P::Memory { .. }) => "memory",
        Err(P::OutputTooLarge { .. }) => "output_limit",
        Err(P::Trap { .. }) => "trap",
        Err(_) => "error",
    };
    get().plugin_calls.with_label_values(&[plugin, label]).inc();
}

/// One exposition: the recorded metrics plus values read at scrape time.
pub struct Scrape {
    extra: Registry,
}

impl Default for Scrape {
    fn default() -> Self {
        Scrape::new()
    }
}

impl Scrape {
    /// A scrape with no values of its own yet.
    pub fn new() -> Scrape {
        Scrape {
            extra: Registry::new(),
        }
    }

    /// Add a counter read now.
    pub fn counter(&self, name: &str, help: &str, value: u64) {
        if let Ok(c) = IntCounter::new(name, help) {
            c.inc_by(value);
            let _ = self.extra.register(Box::new(c));
        }
    }

    /// Add a gauge read now.
    pub fn gauge(&self, name: &str, help: &str, value: i64) {
        if let Ok(g) = IntGauge::new(name, help) {
            g.set(value);
            let _ = self.extra.register(Box::new(g));
        }
    }

    /// Add a labelled gauge family read now: one `(label values, value)`
    /// per series.
    pub fn gauges<'a>(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        series: impl IntoIterator<Item = (Vec<&'a str>, i64)>,
    ) {
        if let Ok(g) = IntGaugeVec::new(Opts::new(name, help), labels) {
            for (values, v) in series {
                if let Ok(s) = g.get_metric_with_label_values(&values) {
                    s.set(v);
                }
            }
            let _ = self.extra.register(Box::new(g));
        }
    }

    /// The Prometheus text exposition of everything.
    pub fn encode(self) -> String {
        let mut families = get().registry.gather();
        families.extend(self.extra.gather());
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The content type of [`Scrape::encode`].
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exposition_has_recorded_and_scraped_values() {
        get().selfheal.with_label_values(&["web"]).inc();
        let s = Scrape::new();
        s.counter("sluice_test_total", "A test counter.", 7);
        s.gauges(
            "sluice_test_info",
            "A test info.",
            &["name"],
            [(vec!["a\"b"], 1)],
        );
        let text = s.encode();
        assert!(
            text.contains("sluice_selfheal_total{name=\"web\"}"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE sluice_test_total counter\nsluice_test_total 7\n"),
            "{text}"
        );
        assert!(
            text.contains("sluice_test_info{name=\"a\\\"b\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE sluice_app_reconcile_duration_seconds histogram"),
            "{text}"
        );
    }

    #[test]
    fn plugin_timeouts_and_memory_kills_are_counted_apart() {
        use crate::plugin::PluginError;
        let count = |r: &str| get().plugin_calls.with_label_values(&["m-test", r]).get();
        let timeout: Result<Result<(), ()>, _> = Err(PluginError::Timeout {
            plugin: "m-test".into(),
            limit: std::time::Duration::from_secs(1),
        });
        let memory: Result<Result<(), ()>, _> = Err(PluginError::Memory {
            plugin: "m-test".into(),
            limit: 1,
        });
        plugin_call("m-test", &timeout);
        plugin_call("m-test", &memory);
        plugin_call("m-test", &memory);
        plugin_call::<(), ()>("m-test", &Ok(Err(())));
        assert_eq!(
            (
                count("timeout"),
                count("memory"),
                count("render_error"),
                count("ok")
            ),
            (1, 2, 1, 0)
        );
    }
}
