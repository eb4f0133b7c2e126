//! Prometheus metrics, rendered as text exposition format 0.0.4.
//!
//! Labels take values from closed sets only — a route from `ROUTES` (or `other`), a status
//! code, a category, a decision — so no label can carry text a client sent.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use super::http::Observed;
use crate::category::Category;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Clone, Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(&'static str, u16), u64>,
    latency: BTreeMap<&'static str, Histogram>,
    findings: [u64; 7],
    decisions: [u64; 3],
    saturated: u64,
    reloads_ok: u64,
    reloads_failed: u64,
}

/// The service's counters. One short critical section per request.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves counters that are still valid numbers.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn observe(
        &self,
        route: &'static str,
        status: u16,
        latency: Duration,
        seen: &Observed,
    ) {
        let secs = latency.as_secs_f64();
        let mut m = self.lock();
        *m.requests.entry((route, status)).or_insert(0) += 1;
        let h = m.latency.entry(route).or_default();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
        for (a, b) in m.findings.iter_mut().zip(seen.counts) {
            *a += u64::from(b);
        }
        for (a, b) in m.decisions.iter_mut().zip(seen.decisions) {
            *a += u64::from(b);
        }
    }

    pub(crate) fn saturated(&self) {
        self.lock().saturated += 1;
    }

    pub(crate) fn reloaded(&self, ok: bool) {
        let mut m = self.lock();
        if ok {
            m.reloads_ok += 1;
        } else {
            m.reloads_failed += 1;
        }
    }

    /// The exposition text.
    pub fn render(&self, in_flight: usize, version: u64) -> String {
        let m = self.lock();
        let mut o = String::with_capacity(4096);
        let _ = writeln!(
            o,
            "# HELP art9_requests_total HTTP requests by route and status.\n\
             # TYPE art9_requests_total counter"
        );
        for ((route, status), n) in &m.requests {
            let _ = writeln!(
                o,
                "art9_requests_total{{path=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(
            o,
            "# HELP art9_request_duration_seconds Request latency by route.\n\
             # TYPE art9_request_duration_seconds histogram"
        );
        for (route, h) in &m.latency {
            for (le, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    o,
                    "art9_request_duration_seconds_bucket{{path=\"{route}\",le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                o,
                "art9_request_duration_seconds_bucket{{path=\"{route}\",le=\"+Inf\"}} {}\n\
                 art9_request_duration_seconds_sum{{path=\"{route}\"}} {}\n\
                 art9_request_duration_seconds_count{{path=\"{route}\"}} {}",
                h.count, h.sum, h.count
            );
        }
        let _ = writeln!(
            o,
            "# HELP art9_findings_total Findings by category.\n\
             # TYPE art9_findings_total counter"
        );
        for c in Category::ALL {
            let _ = writeln!(
                o,
                "art9_findings_total{{category=\"{}\"}} {}",
                c.as_str(),
                m.findings[c.index()]
            );
        }
        let _ = writeln!(
            o,
            "# HELP art9_decisions_total Decisions (per request or batch item).\n\
             # TYPE art9_decisions_total counter"
        );
        for (i, d) in ["accept", "mask", "reject"].iter().enumerate() {
            let _ = writeln!(
                o,
                "art9_decisions_total{{decision=\"{d}\"}} {}",
                m.decisions[i]
            );
        }
        let _ = writeln!(
            o,
            "# HELP art9_rejects_total Notes the policy rejected.\n\
             # TYPE art9_rejects_total counter\nart9_rejects_total {}",
            m.decisions[2]
        );
        let _ = writeln!(
            o,
            "# HELP art9_saturated_total Requests refused with 503 by the concurrency limit.\n\
             # TYPE art9_saturated_total counter\nart9_saturated_total {}",
            m.saturated
        );
        let _ = writeln!(
            o,
            "# HELP art9_reloads_total Lexicon and policy reloads by result.\n\
             # TYPE art9_reloads_total counter\n\
             art9_reloads_total{{result=\"ok\"}} {}\n\
             art9_reloads_total{{result=\"error\"}} {}",
            m.reloads_ok, m.reloads_failed
        );
        let _ = writeln!(
            o,
            "# HELP art9_in_flight Requests being handled on the API routes.\n\
             # TYPE art9_in_flight gauge\nart9_in_flight {in_flight}\n\
             # HELP art9_engine_version Version of the loaded lexicons and policies.\n\
             # TYPE art9_engine_version gauge\nart9_engine_version {version}"
        );
        o
    }
}
