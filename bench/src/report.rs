//! The report: one console line per row, and `docs/benchmarks.md` with a table and an SVG
//! plot of the ratios against their goals.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;

use crate::harness::{Row, Scale};

/// One console line.
pub(crate) fn line(r: &Row) -> String {
    format!(
        "   {:<4} {:<34} ratio {:>9.3}  goal {:<28} {}  (p8fs {:.0}/s p50 {:.0} us p99 {:.0} us; peer {:.0}/s)",
        r.workload,
        r.variant,
        r.ratio,
        r.goal,
        if r.pass { "pass" } else { "MISS" },
        r.ops_per_s,
        r.p50_us,
        r.p99_us,
        r.peer_ops_per_s
    )
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('|', "\\|")
}

/// Writes the markdown report and, next to it, `benchmarks.svg`.
pub(crate) fn write_markdown(path: &Path, rows: &[Row], failures: &[String], scale: Scale) -> Result<()> {
    let svg_name = "benchmarks.svg";
    let mut md = String::new();
    md.push_str("# Benchmarks\n\n");
    md.push_str(
        "Written by `cargo xtask bench` from its last run (do not edit by hand). Each workload runs p8fs and its \
         peer in the same process, interleaved round by round; `ratio` is the median of the per-round ratios of \
         p8fs throughput to the peer's. Absolute numbers are for trend only: the machines are noisy, the ratios \
         are what the goals judge. PostgreSQL and MariaDB run locally (MariaDB 11.8 stands in for the MySQL \
         protocol; no TiDB runs here), the TiKV numbers come from the in-process PD/TiKV stand-in, not a real \
         cluster.\n\n",
    );
    let _ = writeln!(
        md,
        "Rounds: {}. Rows: {}. Misses: {}.\n",
        scale.rounds,
        rows.len(),
        rows.iter().filter(|r| !r.pass).count()
    );
    let _ = writeln!(md, "![ratios against goals]({svg_name})\n");
    md.push_str("| workload | variant | peer | p8fs ops/s | p50 us | p99 us | peer ops/s | ratio | goal | pass |\n");
    md.push_str("|---|---|---|---:|---:|---:|---:|---:|---|---|\n");
    for r in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.3} | {} | {} |",
            r.workload,
            esc(&r.variant),
            esc(&r.peer),
            r.ops_per_s,
            r.p50_us,
            r.p99_us,
            r.peer_ops_per_s,
            r.ratio,
            esc(&r.goal),
            if r.pass { "yes" } else { "**no**" }
        );
    }
    md.push_str("\n## Notes per row\n\n");
    for r in rows.iter().filter(|r| !r.notes.is_empty()) {
        let _ = writeln!(md, "- **{} {}**", r.workload, esc(&r.variant));
        for n in &r.notes {
            let _ = writeln!(md, "  - {}", esc(n));
        }
    }
    if !failures.is_empty() {
        md.push_str("\n## Workloads that did not run\n\n");
        for f in failures {
            let _ = writeln!(md, "- {}", esc(f));
        }
    }
    std::fs::write(path, md)?;
    let svg_path = path.with_file_name(svg_name);
    std::fs::write(svg_path, svg(rows))?;
    Ok(())
}

/// Horizontal bars: each row's ratio divided by its goal, on a log scale; 1 is the goal.
fn svg(rows: &[Row]) -> String {
    let judged: Vec<&Row> = rows.iter().filter(|r| r.goal_min.is_some()).collect();
    let (w, left, bar_h, gap) = (900.0, 330.0, 16.0, 6.0);
    let h = 50.0 + judged.len() as f64 * (bar_h + gap);
    // x = log10(ratio / goal) from -2 to +2.
    let x_of = |v: f64| left + (v.log10().clamp(-2.0, 2.0) + 2.0) / 4.0 * (w - left - 20.0);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(
        s,
        r#"<text x="10" y="18" font-size="13">ratio / goal (log scale; right of the line meets the goal)</text>"#
    );
    for (tick, label) in [(0.01, "1/100"), (0.1, "1/10"), (1.0, "goal"), (10.0, "10x"), (100.0, "100x")] {
        let x = x_of(tick);
        let stroke = if tick == 1.0 { "#000" } else { "#ccc" };
        let _ = writeln!(s, r#"<line x1="{x:.1}" y1="28" x2="{x:.1}" y2="{:.1}" stroke="{stroke}"/>"#, h - 8.0);
        let _ = writeln!(s, r#"<text x="{:.1}" y="40" text-anchor="middle">{label}</text>"#, x);
    }
    for (i, r) in judged.iter().enumerate() {
        let y = 46.0 + i as f64 * (bar_h + gap);
        let rel = r.ratio / r.goal_min.unwrap_or(1.0);
        let (x0, x1) = (x_of(1.0), x_of(rel.max(1e-9)));
        let (lo, hi) = if x1 < x0 { (x1, x0) } else { (x0, x1) };
        let color = if r.pass { "#3a7d44" } else { "#c0392b" };
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{} {}</text>"#,
            left - 6.0,
            y + bar_h - 4.0,
            r.workload,
            esc(&r.variant)
        );
        let _ = writeln!(
            s,
            r#"<rect x="{lo:.1}" y="{y:.1}" width="{:.1}" height="{bar_h}" fill="{color}"><title>ratio {:.3}, goal {}</title></rect>"#,
            (hi - lo).max(1.0),
            r.ratio,
            esc(&r.goal)
        );
    }
    s.push_str("</svg>\n");
    s
}
