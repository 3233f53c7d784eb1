//! Request and backend metrics in Prometheus text format.
//!
//! Every label takes values from a bounded set, whatever clients send: routes are the
//! router's templates (or `unmatched`), methods the standard ones (or `other`), statuses
//! three-digit codes, backend operations the contract's names. A client cannot grow the
//! exposition or the process's memory by sending new values.

use std::fmt::Write as _;
use std::time::Duration;

use dashmap::DashMap;

/// Upper bounds of the latency histograms, in seconds.
const BUCKETS: [f64; 12] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, d: Duration) {
        let s = d.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += s;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {}", self.counts[i]);
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

/// One route's requests: counts by (method, status) and the latency histogram.
#[derive(Debug, Default, Clone)]
struct RouteStats {
    /// A handful of entries (bounded methods times the statuses the proxy answers).
    counts: Vec<((&'static str, u16), u64)>,
    latency: Histogram,
}

/// The proxy's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    /// By route template: found by `&str`, so a request of a known route allocates nothing.
    routes: DashMap<String, RouteStats>,
    backend: DashMap<&'static str, Histogram>,
    backend_errors: DashMap<&'static str, u64>,
}

impl Metrics {
    /// Records one request. `route` must come from a bounded set (the matched route
    /// template); `method` may be anything the client sent: it is recorded as one of the
    /// standard methods or `other`.
    pub fn request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let key = (method_label(method), status);
        let record = |r: &mut RouteStats| {
            match r.counts.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n += 1,
                None => r.counts.push((key, 1)),
            }
            r.latency.observe(took);
        };
        match self.routes.get_mut(route) {
            Some(mut r) => record(&mut r),
            None => record(&mut self.routes.entry(route.to_owned()).or_default()),
        }
    }

    /// Records one backend call.
    pub fn backend_call(&self, op: &'static str, took: Duration, ok: bool) {
        self.backend.entry(op).or_default().observe(took);
        if !ok {
            *self.backend_errors.entry(op).or_default() += 1;
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP p8fs_http_requests_total HTTP requests by route, method and status.\n");
        out.push_str("# TYPE p8fs_http_requests_total counter\n");
        let mut routes: Vec<_> = self.routes.iter().map(|e| (e.key().clone(), e.value().clone())).collect();
        routes.sort_by(|a, b| a.0.cmp(&b.0));
        let mut reqs: Vec<_> =
            routes.iter().flat_map(|(r, st)| st.counts.iter().map(move |((m, s), n)| ((r, *m, *s), *n))).collect();
        reqs.sort();
        for ((route, method, status), n) in reqs {
            let _ = writeln!(
                out,
                "p8fs_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str("# HELP p8fs_http_request_duration_seconds HTTP request latency by route.\n");
        out.push_str("# TYPE p8fs_http_request_duration_seconds histogram\n");
        for (route, st) in &routes {
            st.latency.render(&mut out, "p8fs_http_request_duration_seconds", &format!("route=\"{}\"", escape(route)));
        }
        out.push_str("# HELP p8fs_kv_backend_call_duration_seconds KV backend call latency by operation.\n");
        out.push_str("# TYPE p8fs_kv_backend_call_duration_seconds histogram\n");
        let mut be: Vec<_> = self.backend.iter().map(|e| (*e.key(), e.value().clone())).collect();
        be.sort_by(|a, b| a.0.cmp(b.0));
        for (op, h) in be {
            h.render(&mut out, "p8fs_kv_backend_call_duration_seconds", &format!("op=\"{op}\""));
        }
        out.push_str("# HELP p8fs_kv_backend_errors_total KV backend calls that failed, by operation.\n");
        out.push_str("# TYPE p8fs_kv_backend_errors_total counter\n");
        let mut errs: Vec<_> = self.backend_errors.iter().map(|e| (*e.key(), *e.value())).collect();
        errs.sort();
        for (op, n) in errs {
            let _ = writeln!(out, "p8fs_kv_backend_errors_total{{op=\"{op}\"}} {n}");
        }
        out
    }
}

/// The label of a request method: a standard method, or `other`.
fn method_label(method: &str) -> &'static str {
    const STANDARD: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"];
    STANDARD.into_iter().find(|m| *m == method).unwrap_or("other")
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.request("/kv/{*path}", "GET", 200, Duration::from_micros(300));
        m.request("/kv/{*path}", "GET", 404, Duration::from_millis(3));
        m.backend_call("get", Duration::from_micros(50), false);
        let text = m.render();
        assert!(
            text.contains("p8fs_http_requests_total{route=\"/kv/{*path}\",method=\"GET\",status=\"404\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("p8fs_http_request_duration_seconds_bucket{route=\"/kv/{*path}\",le=\"0.0005\"} 1"),
            "{text}"
        );
        assert!(text.contains("p8fs_http_request_duration_seconds_count{route=\"/kv/{*path}\"} 2"), "{text}");
        assert!(text.contains("p8fs_kv_backend_errors_total{op=\"get\"} 1"), "{text}");
    }

    #[test]
    fn unknown_methods_share_one_label() {
        let m = Metrics::default();
        for i in 0..1000 {
            m.request("unmatched", &format!("X{i}{}", "M".repeat(1000)), 400, Duration::from_micros(1));
        }
        m.request("unmatched", "get", 400, Duration::from_micros(1));
        let text = m.render();
        assert!(
            text.contains("p8fs_http_requests_total{route=\"unmatched\",method=\"other\",status=\"400\"} 1001"),
            "{text}"
        );
        assert!(text.len() < 4096, "the exposition grew to {} bytes", text.len());
    }
}
