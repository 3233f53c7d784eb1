//! The first SQL suite: the server says what it is, and JSON and vectors survive a round
//! trip through a real table.

use std::sync::Arc;

use anyhow::{Context, Result, ensure};
use p8fs_sql_dialect::probe::{ProbeRow, ProbeTable};
use p8fs_sql_dialect::{ErrorKind, Flavor, SqlExecutor, Statement};
use serde_json::json;

use crate::harness::Ctx;

/// A probe table that is dropped when the test ends, pass or fail.
struct Probe {
    db: Arc<dyn SqlExecutor>,
    table: ProbeTable,
}

impl Probe {
    async fn create(ctx: &Ctx) -> Result<Self> {
        let db = ctx.env.sql(&ctx.scratch).await?;
        let table = ProbeTable::new(&ctx.scratch)?;
        let create = table.create(db.dialect());
        db.execute(&create).await.context("create the probe table")?;
        Ok(Self { db, table })
    }

    fn insert_stmt(&self, id: &str, doc: &serde_json::Value, v: &[f32]) -> p8fs_sql_dialect::Result<Statement> {
        self.table.insert(self.db.dialect(), id, doc, v)
    }

    async fn insert(&self, id: &str, doc: &serde_json::Value, v: &[f32]) -> Result<()> {
        let n = self.db.execute(&self.insert_stmt(id, doc, v)?).await?;
        ensure!(n == 1, "insert affected {n} rows");
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<ProbeRow>> {
        let stmt = self.table.select(self.db.dialect(), id);
        let mut rows = self.db.query(&stmt).await?;
        ensure!(rows.len() <= 1, "{} rows for one primary key", rows.len());
        rows.pop().map(ProbeTable::decode).transpose().map_err(Into::into)
    }

    async fn drop(self) -> Result<()> {
        let stmt = self.table.drop(self.db.dialect());
        self.db.execute(&stmt).await?;
        Ok(())
    }

    /// Runs `body`, then drops the table whatever happened.
    async fn with<F>(ctx: &Ctx, body: F) -> Result<()>
    where
        F: AsyncFnOnce(&Probe) -> Result<()>,
    {
        let probe = Probe::create(ctx).await?;
        let result = body(&probe).await;
        let dropped = probe.drop().await;
        result.and(dropped)
    }
}

pub(crate) async fn server_reports_its_flavor_and_version(ctx: Ctx) -> Result<()> {
    let db = ctx.env.sql(&ctx.scratch).await?;
    let info = db.server_info().await?;
    let expected = ctx.env.backend.expected_flavor();
    ensure!(info.flavor == expected, "server says {:?} ({}), expected {expected:?}", info.flavor, info.version_text);
    ensure!(
        info.flavor.dialect() == Some(db.dialect().kind()),
        "dialect {:?} does not match flavor {:?}",
        db.dialect().kind(),
        info.flavor
    );
    let (major, minor) = match info.flavor {
        Flavor::MariaDb => (11, 7),
        Flavor::Tidb => (8, 4),
        Flavor::Postgres => (13, 0),
        Flavor::Sqlite => (3, 38),
        Flavor::MySql => (0, 0),
    };
    ensure!(
        info.at_least(major, minor),
        "{} reports version {:?} ({}); p8fs needs {major}.{minor} or later",
        info.flavor.name(),
        info.version,
        info.version_text
    );
    println!(
        "{}: {} {}.{}.{} ({})",
        ctx.env.backend.name(),
        info.flavor.name(),
        info.version.0,
        info.version.1,
        info.version.2,
        info.version_text
    );
    Ok(())
}

pub(crate) async fn json_round_trips_every_kind(ctx: Ctx) -> Result<()> {
    let docs = [
        json!("a string with 'quotes', \"double quotes\", \\ and unicode: żółw 🐢"),
        json!(42),
        json!(-7.25),
        json!(9007199254740993_u64),
        json!(true),
        json!(false),
        json!(null),
        json!({}),
        json!([]),
        json!({"nested": {"list": [1, "two", null, {"deep": [[]]}], "flag": false}, "empty": {}}),
        json!([{"dst": "b", "rel_type": "cites", "weight": 0.5}]),
    ];
    Probe::with(&ctx, async |p| {
        for (i, doc) in docs.iter().enumerate() {
            let id = format!("doc{i}");
            p.insert(&id, doc, &[0.0, 1.0, -1.0]).await?;
            let back = p.get(&id).await?.with_context(|| format!("{id} missing after insert"))?;
            ensure!(&back.doc == doc, "JSON changed in the round trip: stored {doc}, read {}", back.doc);
        }
        Ok(())
    })
    .await
}

pub(crate) async fn vector_round_trips_exactly(ctx: Ctx) -> Result<()> {
    let vectors: [[f32; 3]; 4] = [
        [0.1, -0.25, 0.333_333_34],
        [1.0e-7, -1.0e15, 123_456.79],
        [0.0, -0.0, 1.0],
        [-0.577_350_26, 0.577_350_26, -0.577_350_26],
    ];
    Probe::with(&ctx, async |p| {
        for (i, v) in vectors.iter().enumerate() {
            let id = format!("v{i}");
            p.insert(&id, &json!({"i": i}), v).await?;
            let back = p.get(&id).await?.with_context(|| format!("{id} missing after insert"))?;
            // Bit-exact, except that -0.0 may come back as 0.0.
            let same = back.embedding.len() == v.len()
                && back.embedding.iter().zip(v).all(|(a, b)| a.to_bits() == b.to_bits() || (*a == 0.0 && *b == 0.0));
            ensure!(same, "vector changed in the round trip: stored {v:?}, read {:?}", back.embedding);
        }
        // Extreme magnitudes: MariaDB refuses components whose square overflows f32. Each
        // engine either stores them exactly or refuses them as invalid input; none may
        // store something else.
        let extreme = [1.0e-38_f32, -3.402_823_5e38, 1.0];
        match p.insert("extreme", &json!(null), &extreme).await {
            Ok(()) => {
                let back = p.get("extreme").await?.context("extreme vector missing")?;
                ensure!(back.embedding == extreme, "extreme vector changed: {:?}", back.embedding);
            }
            Err(e) => {
                let kind = e.downcast_ref::<p8fs_sql_dialect::Error>().map(|e| e.kind());
                ensure!(kind == Some(ErrorKind::InvalidInput), "extreme vector refused with {kind:?}: {e:#}");
                ensure!(p.get("extreme").await?.is_none(), "a refused vector was stored");
            }
        }
        Ok(())
    })
    .await
}

pub(crate) async fn hostile_values_are_stored_literally(ctx: Ctx) -> Result<()> {
    let ids = ["'; DROP TABLE x; --", "a\\'b", "quote\"and`tick", "nul\0byte", "percent%_under"];
    Probe::with(&ctx, async |p| {
        for id in ids {
            match p.insert(id, &json!({"id": id}), &[1.0, 2.0, 3.0]).await {
                Ok(()) => {}
                // PostgreSQL text cannot hold NUL: it must refuse cleanly, not corrupt.
                Err(e) if id.contains('\0') => {
                    let kind = e.downcast_ref::<p8fs_sql_dialect::Error>().map(|e| e.kind());
                    ensure!(kind == Some(ErrorKind::InvalidInput), "NUL rejected with {kind:?}: {e:#}");
                    continue;
                }
                Err(e) => return Err(e),
            }
            let back = p.get(id).await?.with_context(|| format!("{id:?} not found by its own value"))?;
            ensure!(back.id == id, "id changed: {id:?} -> {:?}", back.id);
            ensure!(back.doc == json!({"id": id}), "doc changed: {}", back.doc);
        }
        // LIKE metacharacters in a bound equality match only themselves.
        ensure!(p.get("percent%").await?.is_none(), "'percent%' matched another row");
        Ok(())
    })
    .await
}

/// A statement text holding a second statement is refused whole on every engine: the
/// providers never hand a text to a protocol or API that runs several statements
/// (PostgreSQL's simple query, the MySQL text protocol with multi-statements, SQLite's
/// batch), with or without bound values.
pub(crate) async fn stacked_statements_never_run(ctx: Ctx) -> Result<()> {
    Probe::with(&ctx, async |p| {
        p.insert("kept", &json!(1), &[1.0, 2.0, 3.0]).await?;
        let table = p.db.dialect().quote_ident(p.table.name());
        let drop = p.table.drop(p.db.dialect()).sql;
        for sql in [format!("SELECT 1; {drop}"), format!("SELECT COUNT(*) FROM {table}; {drop}")] {
            let stmt = Statement::raw(sql.clone());
            ensure!(p.db.execute(&stmt).await.is_err(), "execute ran {sql:?}");
            ensure!(p.db.query(&stmt).await.is_err(), "query ran {sql:?}");
            ensure!(p.db.execute_in_transaction(std::slice::from_ref(&stmt)).await.is_err(), "transaction ran {sql:?}");
        }
        ensure!(p.get("kept").await?.is_some(), "a stacked statement dropped or emptied the table");
        Ok(())
    })
    .await
}

pub(crate) async fn duplicate_primary_key_is_a_unique_violation(ctx: Ctx) -> Result<()> {
    Probe::with(&ctx, async |p| {
        p.insert("dup", &json!(1), &[1.0, 0.0, 0.0]).await?;
        let err = p.insert("dup", &json!(2), &[0.0, 1.0, 0.0]).await.err().context("second insert succeeded")?;
        let e = err.downcast_ref::<p8fs_sql_dialect::Error>().context("not a p8fs SQL error")?;
        ensure!(e.kind() == ErrorKind::UniqueViolation, "kind {:?}: {e}", e.kind());
        ensure!(!e.is_retryable(), "a unique violation must not be retryable");
        let kept = p.get("dup").await?.context("row lost")?;
        ensure!(kept.doc == json!(1), "the failed insert changed the row: {}", kept.doc);
        Ok(())
    })
    .await
}

pub(crate) async fn non_finite_vectors_are_rejected(ctx: Ctx) -> Result<()> {
    Probe::with(&ctx, async |p| {
        for bad in [[f32::NAN, 0.0, 0.0], [0.0, f32::INFINITY, 0.0], [0.0, 0.0, f32::NEG_INFINITY]] {
            let e = p.insert_stmt("bad", &json!(null), &bad).err().context("non-finite vector accepted")?;
            ensure!(e.kind() == ErrorKind::InvalidInput, "kind {:?}", e.kind());
        }
        ensure!(p.get("bad").await?.is_none(), "a rejected row was stored");
        Ok(())
    })
    .await
}
