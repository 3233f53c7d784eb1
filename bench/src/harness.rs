//! Measuring: a workload and its peer run in the same process, interleaved in balanced
//! rounds (A B B A, then B A A B, ...), every operation timed; the result is the median of
//! the per-round throughput ratios, so drift of a noisy machine hits both sides alike.

use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

/// Sizes and rounds of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scale {
    /// Interleaved rounds (the default run: at least 5).
    pub(crate) rounds: usize,
    /// Smoke run: tiny sizes, one round, nothing judged.
    pub(crate) smoke: bool,
}

impl Scale {
    /// `full` in a default run, `smoke` in a smoke run.
    pub(crate) fn pick(&self, full: usize, smoke: usize) -> usize {
        if self.smoke { smoke } else { full }
    }
}

/// Timings of one side.
#[derive(Debug, Clone, Default)]
pub(crate) struct Side {
    /// Per-operation latencies of every round.
    pub(crate) latencies: Vec<Duration>,
    /// Throughput of each round, operations per second.
    pub(crate) round_ops_per_s: Vec<f64>,
}

impl Side {
    /// Median of the rounds' throughputs.
    pub(crate) fn ops_per_s(&self) -> f64 {
        median(&self.round_ops_per_s)
    }

    /// A latency percentile, microseconds.
    pub(crate) fn percentile_us(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let mut v: Vec<Duration> = self.latencies.clone();
        v.sort_unstable();
        let i = ((v.len() as f64 - 1.0) * p).round() as usize;
        v[i.min(v.len() - 1)].as_secs_f64() * 1e6
    }
}

/// Median (of a copy); 0 for no values.
pub(crate) fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// Both sides of a comparison.
#[derive(Debug, Clone, Default)]
pub(crate) struct Comparison {
    /// p8fs.
    pub(crate) a: Side,
    /// The peer.
    pub(crate) b: Side,
}

impl Comparison {
    /// Median of the per-round ratios of throughput, p8fs / peer.
    pub(crate) fn ratio(&self) -> f64 {
        let r: Vec<f64> = self
            .a
            .round_ops_per_s
            .iter()
            .zip(&self.b.round_ops_per_s)
            .filter(|(_, b)| **b > 0.0)
            .map(|(a, b)| a / b)
            .collect();
        median(&r)
    }
}

/// Runs `ops` operations of `f` (given a global operation number), timing each; returns
/// the time they took together.
async fn run_part(
    first: usize,
    ops: usize,
    f: &mut impl AsyncFnMut(usize) -> Result<()>,
    side: &mut Side,
) -> Result<Duration> {
    let start = Instant::now();
    for i in 0..ops {
        let t = Instant::now();
        f(first + i).await?;
        side.latencies.push(t.elapsed());
    }
    Ok(start.elapsed())
}

/// `a` (p8fs) against `b` (the peer): a warm-up of each, then `rounds` rounds of `ops`
/// operations per side. Each round is balanced: the first side runs half its operations,
/// the second side all of its own, then the first side the other half (A B B A; which
/// side goes first alternates between rounds), and a side's throughput in the round is its
/// operations over the time of its parts. A load that grows or fades during a round (a
/// server's background work after a write phase, caches warming) then falls on both sides
/// alike; with whole rounds A B, B A and an odd number of rounds, the side that went first
/// more often took that drift in most rounds, and the median of the rounds' ratios kept it
/// (a bias up to the size of the drift). Operation numbers never repeat on one side, so
/// writes can use them for fresh keys.
pub(crate) async fn compare(
    scale: Scale,
    ops: usize,
    mut a: impl AsyncFnMut(usize) -> Result<()>,
    mut b: impl AsyncFnMut(usize) -> Result<()>,
) -> Result<Comparison> {
    let warm = (ops / 10).max(1);
    let mut skip = Side::default();
    run_part(0, warm, &mut a, &mut skip).await?;
    run_part(0, warm, &mut b, &mut skip).await?;
    let mut c = Comparison::default();
    let (head, tail) = (ops / 2, ops - ops / 2);
    for r in 0..scale.rounds {
        let first = warm + r * ops;
        let (ta, tb) = if r % 2 == 0 {
            let t1 = run_part(first, head, &mut a, &mut c.a).await?;
            let tb = run_part(first, ops, &mut b, &mut c.b).await?;
            (t1 + run_part(first + head, tail, &mut a, &mut c.a).await?, tb)
        } else {
            let t1 = run_part(first, head, &mut b, &mut c.b).await?;
            let ta = run_part(first, ops, &mut a, &mut c.a).await?;
            (ta, t1 + run_part(first + head, tail, &mut b, &mut c.b).await?)
        };
        c.a.round_ops_per_s.push(ops as f64 / ta.as_secs_f64().max(1e-9));
        c.b.round_ops_per_s.push(ops as f64 / tb.as_secs_f64().max(1e-9));
    }
    Ok(c)
}

/// One line of `results.jsonl`.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub(crate) struct Row {
    /// `W1` .. `W12`.
    pub(crate) workload: String,
    /// What this row measures within the workload (engine, batch size, concurrency).
    pub(crate) variant: String,
    /// What p8fs was compared with.
    pub(crate) peer: String,
    /// p8fs throughput, operations per second (median of rounds).
    pub(crate) ops_per_s: f64,
    /// p8fs latency percentiles, microseconds.
    pub(crate) p50_us: f64,
    /// 99th percentile.
    pub(crate) p99_us: f64,
    /// The peer's throughput and latencies.
    pub(crate) peer_ops_per_s: f64,
    /// The peer's median latency.
    pub(crate) peer_p50_us: f64,
    /// The peer's 99th percentile.
    pub(crate) peer_p99_us: f64,
    /// p8fs / peer throughput (median of per-round ratios).
    pub(crate) ratio: f64,
    /// The goal, as text (`>= 0.95x`).
    pub(crate) goal: String,
    /// The smallest ratio that meets the goal; `None`: reported, not judged.
    pub(crate) goal_min: Option<f64>,
    /// Whether the goal holds (always true for rows not judged; false in a smoke run
    /// only when the harness itself failed).
    pub(crate) pass: bool,
    /// Rounds and operations per round.
    pub(crate) rounds: usize,
    /// Operations per round per side.
    pub(crate) ops: usize,
    /// Anything else measured (recall, plans, commit counts).
    pub(crate) notes: Vec<String>,
    /// Named figures for the scale report (`--scale`): sizes, rates, times, bytes.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub(crate) metrics: std::collections::BTreeMap<String, f64>,
    /// A smoke run judges nothing.
    #[serde(skip, default)]
    smoke: bool,
}

impl Row {
    /// A row from a comparison; judged against `goal_min` unless this is a smoke run.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from(
        scale: Scale,
        workload: &str,
        variant: &str,
        peer: &str,
        c: &Comparison,
        ops: usize,
        goal: &str,
        goal_min: Option<f64>,
    ) -> Self {
        let ratio = c.ratio();
        Self {
            workload: workload.into(),
            variant: variant.into(),
            peer: peer.into(),
            ops_per_s: c.a.ops_per_s(),
            p50_us: c.a.percentile_us(0.5),
            p99_us: c.a.percentile_us(0.99),
            peer_ops_per_s: c.b.ops_per_s(),
            peer_p50_us: c.b.percentile_us(0.5),
            peer_p99_us: c.b.percentile_us(0.99),
            ratio,
            goal: goal.into(),
            goal_min,
            pass: scale.smoke || goal_min.is_none_or(|m| ratio >= m),
            rounds: scale.rounds,
            ops,
            notes: Vec::new(),
            metrics: std::collections::BTreeMap::new(),
            smoke: scale.smoke,
        }
    }

    /// A row for a workload that could not run to the end (an engine error, a deadline):
    /// it fails in every run, smoke runs included, and carries the reason.
    pub(crate) fn failed(workload: &str, variant: &str, why: &str) -> Self {
        Self {
            workload: workload.into(),
            variant: variant.into(),
            peer: String::new(),
            ops_per_s: 0.0,
            p50_us: 0.0,
            p99_us: 0.0,
            peer_ops_per_s: 0.0,
            peer_p50_us: 0.0,
            peer_p99_us: 0.0,
            ratio: 0.0,
            goal: "runs to the end".into(),
            goal_min: None,
            pass: false,
            rounds: 0,
            ops: 0,
            notes: vec![format!("FAILED: {why}")],
            metrics: std::collections::BTreeMap::new(),
            smoke: false,
        }
    }

    /// Adds a note.
    pub(crate) fn note(mut self, n: impl Into<String>) -> Self {
        self.notes.push(n.into());
        self
    }

    /// Adds named figures.
    pub(crate) fn metrics(mut self, m: &[(&str, f64)]) -> Self {
        self.metrics.extend(m.iter().map(|(k, v)| ((*k).to_owned(), *v)));
        self
    }

    /// Fails the row (a condition besides throughput does not hold), with the reason.
    pub(crate) fn fail_unless(mut self, ok: bool, why: impl Into<String>) -> Self {
        if !ok {
            let why = why.into();
            if self.smoke {
                self.notes.push(format!("(not judged in a smoke run) {why}"));
            } else {
                self.pass = false;
                self.notes.push(format!("FAILED: {why}"));
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_ratios() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        let c = Comparison {
            a: Side { latencies: vec![], round_ops_per_s: vec![100.0, 90.0, 300.0] },
            b: Side { latencies: vec![], round_ops_per_s: vec![100.0, 100.0, 100.0] },
        };
        assert_eq!(c.ratio(), 1.0, "the median of per-round ratios, not the ratio of medians");
    }

    #[tokio::test]
    async fn rounds_interleave_and_numbers_never_repeat() {
        let mut seen_a = Vec::new();
        let mut seen_b = Vec::new();
        let scale = Scale { rounds: 3, smoke: false };
        let c = compare(
            scale,
            4,
            async |i| {
                seen_a.push(i);
                Ok(())
            },
            async |i| {
                seen_b.push(i);
                Ok(())
            },
        )
        .await
        .unwrap();
        assert_eq!(c.a.round_ops_per_s.len(), 3);
        assert_eq!(c.a.latencies.len(), 12);
        let mut a = seen_a.clone();
        a.sort_unstable();
        a.dedup();
        assert_eq!(a.len(), seen_a.len(), "no operation number repeats, warm-up included");
        assert_eq!(seen_b.len(), 13);
    }
}
