//! `p8fs doctor`: what is configured, whether it answers, and whether it can store what
//! p8fs needs.

use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, ensure};
use p8fs_core::SqlConfig;
use p8fs_core::sql::probe::ProbeTable;
use p8fs_core::sql::with_dialect;
use serde_json::json;

pub(crate) async fn run(data_dir: &Path, as_json: bool) -> Result<()> {
    let cfg = match SqlConfig::from_env()? {
        // The command line's --data-dir applies to the embedded default.
        SqlConfig::Sqlite { .. } if std::env::var_os("P8FS_SQLITE_PATH").is_none() => SqlConfig::embedded(data_dir),
        other => other,
    };
    let t = Instant::now();
    let db = p8fs_core::connect_sql(&cfg).await.with_context(|| format!("connecting to {}", cfg.describe()))?;
    let info = db.server_info().await?;
    let connect_ms = t.elapsed().as_secs_f64() * 1e3;

    // A JSON and vector round trip through a throwaway table.
    let t = Instant::now();
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let table = ProbeTable::new(&format!("doctor_{}_{nanos}", std::process::id()))?;
    let doc = json!({"name": "doctor", "tags": ["a", "b"], "nested": {"ok": true}});
    let vector = [0.25_f32, -0.5, 0.125];
    let d = db.dialect();
    db.execute(&with_dialect!(d, |d| table.create(d))).await?;
    let round_trip = async {
        db.execute(&with_dialect!(d, |d| table.insert(d, "probe", &doc, &vector))?).await?;
        let rows = db.query(&with_dialect!(d, |d| table.select(d, "probe"))).await?;
        let row = ProbeTable::decode(rows.into_iter().next().context("the probe row was not read back")?)?;
        ensure!(row.doc == doc && row.embedding == vector, "the probe row changed in the round trip: {row:?}");
        anyhow::Ok(())
    }
    .await;
    db.execute(&with_dialect!(d, |d| table.drop(d))).await?;
    round_trip?;
    let probe_ms = t.elapsed().as_secs_f64() * 1e3;

    if as_json {
        println!(
            "{}",
            json!({
                "provider": cfg.describe(),
                "flavor": info.flavor.name(),
                "version": format!("{}.{}.{}", info.version.0, info.version.1, info.version.2),
                "version_text": info.version_text,
                "dialect": d.name(),
                "json_vector_round_trip": "ok",
                "connect_ms": connect_ms,
                "round_trip_ms": probe_ms,
            })
        );
    } else {
        println!("provider       {}", cfg.describe());
        println!("server         {} {}.{}.{}", info.flavor.name(), info.version.0, info.version.1, info.version.2);
        println!("dialect        {d}");
        println!("connect        ok ({connect_ms:.1} ms)");
        println!("JSON + vector  round trip ok ({probe_ms:.1} ms)");
    }
    Ok(())
}
