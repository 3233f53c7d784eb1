//! The `p8fs` binary on a server provider chosen by the environment variables (the
//! binary's own end-to-end tests cover the embedded default): `doctor`, `demo`, `export`
//! and `import` against this backend's database, KV in the same database.

use std::process::{Command, Output};
use std::sync::Arc;

use anyhow::{Context, Result, ensure};
use p8fs_core::embed::LexicalEmbedder;
use p8fs_core::kv_layer::TenantId;
use p8fs_sql_dialect::entity::Layout;
use serde_json::Value;

use crate::harness::Ctx;

/// The `p8fs` binary of this build (`target/<profile>/p8fs`, next to `deps/`).
fn binary() -> Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().and_then(|d| d.parent()).context("no target directory")?;
    let bin = dir.join(format!("p8fs{}", std::env::consts::EXE_SUFFIX));
    ensure!(bin.exists(), "{} is missing: build the workspace's tests first (cargo xtask test does)", bin.display());
    Ok(bin)
}

async fn run(ctx: &Ctx, data_dir: &std::path::Path, args: &[&str]) -> Result<Output> {
    let url = ctx.env.url().context("no database URL")?.to_owned();
    let provider = match ctx.env.backend {
        crate::Backend::Postgres => ("postgresql", "P8FS_PG_URL"),
        _ => ("tidb", "P8FS_TIDB_URL"),
    };
    let mut cmd = Command::new(binary()?);
    cmd.arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("P8FS_STORAGE_PROVIDER", provider.0)
        .env(provider.1, &url)
        .env("P8FS_KV_URL", &url)
        .env_remove("P8FS_EMBEDDING_URL");
    Ok(tokio::task::spawn_blocking(move || cmd.output()).await??)
}

fn json_of(args: &[&str], out: &Output) -> Result<Value> {
    ensure!(out.status.success(), "p8fs {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .with_context(|| format!("p8fs {args:?}: {}", String::from_utf8_lossy(&out.stdout)))
}

pub(crate) async fn cli_runs_on_this_provider(ctx: Ctx) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let tenant = ctx.scratch.clone();
    let result = async {
        let args = ["--json", "doctor"];
        let doctor = json_of(&args, &run(&ctx, dir.path(), &args).await?)?;
        ensure!(doctor["ok"] == true, "doctor: {doctor}");
        let flavor = doctor["checks"].as_array().into_iter().flatten().any(|c| c["check"] == "server");
        ensure!(flavor, "doctor names the server: {doctor}");

        let args = ["--json", "demo", "--tenant", &tenant];
        let demo = json_of(&args, &run(&ctx, dir.path(), &args).await?)?;
        ensure!(demo["loaded"] == 300 && demo["atomic_mappings"] == true, "demo: {}", demo["loaded"]);
        for s in demo["searches"].as_array().context("searches")? {
            ensure!(s["top_hit_matches"] == true, "search {} found {}", s["query"], s["hits"][0]["name"]);
        }

        let args = ["export", "--type", "resources", "--tenant", &tenant];
        let out = run(&ctx, dir.path(), &args).await?;
        ensure!(out.status.success(), "export: {}", String::from_utf8_lossy(&out.stderr));
        let exported = String::from_utf8(out.stdout)?;
        ensure!(exported.lines().count() == 300, "exported {} lines", exported.lines().count());
        let file = dir.path().join("export.jsonl");
        std::fs::write(&file, &exported)?;
        let path = file.to_str().context("path")?;
        let args = ["--json", "import", path, "--type", "resources", "--tenant", &tenant, "--strict"];
        let import = json_of(&args, &run(&ctx, dir.path(), &args).await?)?;
        ensure!(import["imported"] == 300, "import: {import}");
        let args = ["export", "--type", "resources", "--tenant", &tenant];
        let again = run(&ctx, dir.path(), &args).await?;
        ensure!(String::from_utf8(again.stdout)? == exported, "import of an export changed the entities");
        Ok(())
    }
    .await;
    // The demo wrote to the core tables of the default schema, under this test's tenant.
    // A failure above is the one to report, not what cleaning up after it says.
    let cleanup = clean_up(&ctx, &tenant).await;
    result.and(cleanup)
}

async fn clean_up(ctx: &Ctx, tenant: &str) -> Result<()> {
    let sql = ctx.env.sql(&ctx.scratch).await?;
    let p =
        p8fs_core::P8fs::with_sql_kv(Arc::clone(&sql), Layout::default(), Arc::new(LexicalEmbedder::new(384))).await?;
    let model = p8fs_sql_dialect::model::resources();
    let q = p8fs_sql_dialect::entity::EntityQuery::parse(&model, &serde_json::Map::new(), &[], Some(1000), None)?;
    for row in p.select("resources", tenant, &q).await? {
        if let Some(id) = row.get("id").and_then(Value::as_str) {
            p.delete_entity("resources", id, tenant).await?;
        }
    }
    // Mappings went with their entities; the demo's own keys remain.
    p.kv().tenant(&TenantId::new(tenant)?).delete_prefix("demo/").await?;
    Ok(())
}
