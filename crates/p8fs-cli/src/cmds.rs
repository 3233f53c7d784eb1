//! `p8fs schema`, `migrate`, `kv ...`, `entity ...`, `search`.

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Subcommand;
use p8fs_core::sql::entity::{SearchOptions, ddl};
use p8fs_core::sql::{DialectKind, Metric};
use p8fs_core::{EmbedderSettings, Error as CoreError, P8fs, Settings};
use serde_json::{Map, Value, json};

use crate::hits::HitRow;
use crate::output::{Align, Style, Table};

/// Bad usage or input (exit status 2): the core API's [`CoreError::InvalidInput`], so
/// its kind decides the exit status like any other error's.
pub(crate) fn bad_input(message: impl Into<String>) -> anyhow::Error {
    CoreError::InvalidInput(message.into()).into()
}

/// The thing asked for does not exist (exit status 1): [`CoreError::NotFound`].
pub(crate) fn not_found(message: impl Into<String>) -> anyhow::Error {
    CoreError::NotFound(message.into()).into()
}

/// `--embedder`, which wins over `P8FS_EMBEDDER` (set once, before any command runs).
pub(crate) static EMBEDDER: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The settings the environment names (the embedded default under `data_dir` otherwise),
/// with `--embedder` applied; a first-use fetch of the local model reports on stderr.
pub(crate) fn settings(data_dir: &Path) -> Result<Settings> {
    let var = |k: &str| match (k, EMBEDDER.get()) {
        ("P8FS_EMBEDDER", Some(e)) => Some(e.clone()),
        _ => std::env::var(k).ok().filter(|v| !v.is_empty()),
    };
    let mut s = Settings::from_vars(var, data_dir)?;
    if let EmbedderSettings::MiniLm { progress, .. } = &mut s.embedder {
        *progress = true;
    }
    Ok(s)
}

/// One line for people: the embedder in use, and why it is not the configured one.
pub(crate) fn describe_embedder(p: &P8fs) -> String {
    let e = p.embedder();
    match p.embedder_note() {
        Some(note) => format!("{} ({} dimensions): {note}", e.name(), e.dim()),
        None => format!("{} ({} dimensions)", e.name(), e.dim()),
    }
}

/// Opens everything the settings name and creates missing tables.
pub(crate) async fn open(data_dir: &Path) -> Result<P8fs> {
    let p = P8fs::open(&settings(data_dir)?).await?;
    p.migrate().await.context("creating the tables")?;
    Ok(p)
}

fn print(json_out: bool, v: &Value, human: impl FnOnce() -> String) {
    if json_out {
        println!("{v}");
    } else {
        println!("{}", human());
    }
}

/// `p8fs schema --dialect D [--model M]`: the DDL, without a database.
pub(crate) fn schema(kind: DialectKind, model: Option<&str>) -> Result<()> {
    let models = p8fs_core::sql::model::core_models();
    let chosen: Vec<_> = match model {
        Some(m) => {
            let found: Vec<_> = models.iter().filter(|x| x.name() == m).cloned().collect();
            if found.is_empty() {
                let names: Vec<&str> = models.iter().map(|x| x.name()).collect();
                return Err(bad_input(format!("unknown model {m:?}; known: {}", names.join(", "))));
            }
            found
        }
        None => models,
    };
    let layout = p8fs_core::sql::entity::Layout::default();
    let mut out = std::io::stdout().lock();
    for stmt in ddl::schema_script(kind.dialect(), &chosen, &layout) {
        match writeln!(out, "{};", stmt.sql) {
            Ok(()) => {}
            // A reader that stopped early (`| head`) is not an error.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// `p8fs migrate`.
pub(crate) async fn migrate(data_dir: &Path, json_out: bool) -> Result<()> {
    let p = P8fs::open(&settings(data_dir)?).await?;
    let mut table = Table::new(&[("model", Align::Left), ("version", Align::Right), ("state", Align::Left)]);
    for (name, m) in p.migrate().await? {
        if json_out {
            println!(
                "{}",
                json!({"model": name, "created": m.created, "added_columns": m.added_columns, "version": m.version})
            );
        } else {
            let state = match (m.created, m.added_columns.is_empty()) {
                (true, _) => "created".to_owned(),
                (false, true) => "up to date".to_owned(),
                (false, false) => format!("added {}", m.added_columns.join(", ")),
            };
            table.row(vec![name, m.version.to_string(), state]);
        }
    }
    if !json_out {
        println!("{}", table.render(Style::detect()));
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub(crate) enum KvCmd {
    /// Store JSON under KEY.
    Put {
        /// The key.
        key: String,
        /// The value, as JSON.
        value: String,
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// Time to live, seconds.
        #[arg(long)]
        ttl: Option<u64>,
    },
    /// Print the JSON under KEY.
    Get {
        /// The key.
        key: String,
        /// Tenant.
        #[arg(long)]
        tenant: String,
    },
    /// Delete KEY.
    Delete {
        /// The key.
        key: String,
        /// Tenant.
        #[arg(long)]
        tenant: String,
    },
    /// Keys starting with PREFIX.
    Scan {
        /// The prefix.
        prefix: String,
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// Most entries.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

/// Checks a tenant id (the rules of the KV layer, which every command shares).
pub(crate) fn check_tenant(tenant: &str) -> Result<()> {
    p8fs_core::kv_layer::TenantId::new(tenant).map_err(CoreError::from)?;
    Ok(())
}

pub(crate) fn tenant_kv(p: &P8fs, tenant: &str) -> Result<p8fs_core::kv_layer::TenantKv> {
    let t = p8fs_core::kv_layer::TenantId::new(tenant).map_err(CoreError::from)?;
    Ok(p.kv().tenant(&t))
}

pub(crate) async fn kv(data_dir: &Path, json_out: bool, cmd: KvCmd) -> Result<()> {
    let p = open(data_dir).await?;
    match cmd {
        KvCmd::Put { key, value, tenant, ttl } => {
            let v: Value =
                serde_json::from_str(&value).map_err(|e| bad_input(format!("the value is not JSON: {e}")))?;
            tenant_kv(&p, &tenant)?.put_json(&key, &v, ttl.map(Duration::from_secs)).await.map_err(CoreError::from)?;
            print(json_out, &json!({"key": key, "stored": true}), || format!("stored {key}"));
        }
        KvCmd::Get { key, tenant } => {
            match tenant_kv(&p, &tenant)?.get_json::<Value>(&key).await.map_err(CoreError::from)? {
                Some(v) => print(json_out, &v, || serde_json::to_string_pretty(&v).unwrap_or_default()),
                None => return Err(not_found(format!("no key {key:?} in tenant {tenant}"))),
            }
        }
        KvCmd::Delete { key, tenant } => {
            tenant_kv(&p, &tenant)?.delete(&key).await.map_err(CoreError::from)?;
            print(json_out, &json!({"key": key, "deleted": true}), || format!("deleted {key}"));
        }
        KvCmd::Scan { prefix, tenant, limit } => {
            let page = tenant_kv(&p, &tenant)?.scan_prefix(&prefix, limit, None).await.map_err(CoreError::from)?;
            let entries: Vec<Value> = page
                .entries
                .iter()
                .map(|e| json!({"key": e.key, "value": serde_json::from_slice::<Value>(&e.value).unwrap_or(Value::Null)}))
                .collect();
            if json_out {
                println!("{}", Value::Array(entries));
            } else if entries.is_empty() {
                println!("no keys start with {prefix:?} in tenant {tenant}");
            } else {
                let mut t = Table::new(&[("key", Align::Left), ("value", Align::Left)]);
                for e in &entries {
                    t.row(vec![e["key"].as_str().unwrap_or("").to_owned(), e["value"].to_string()]);
                }
                println!("{}", t.render(Style::detect()));
            }
        }
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub(crate) enum EntityCmd {
    /// Store an entity with its embeddings and reverse mapping.
    Put {
        /// Entity type (model).
        #[arg(long = "type")]
        ty: String,
        /// Name (business key).
        #[arg(long)]
        name: String,
        /// Tenant.
        #[arg(long, required_unless_present = "admin", conflicts_with = "admin")]
        tenant: Option<String>,
        /// Administrative: a global model (shared by every tenant, such as `tenants`).
        #[arg(long)]
        admin: bool,
        /// Fields, as a JSON object.
        #[arg(long, default_value = "{}")]
        data: String,
    },
    /// Print an entity by name or by storage key (TYPE/ID).
    Get {
        /// Entity type (with --name).
        #[arg(long = "type")]
        ty: Option<String>,
        /// Name.
        #[arg(long)]
        name: Option<String>,
        /// Storage key TYPE/ID.
        #[arg(long)]
        key: Option<String>,
        /// Tenant.
        #[arg(long, required_unless_present = "admin", conflicts_with = "admin")]
        tenant: Option<String>,
        /// Administrative: a global model (shared by every tenant, such as `tenants`).
        #[arg(long)]
        admin: bool,
    },
    /// Delete an entity by name.
    Delete {
        /// Entity type.
        #[arg(long = "type")]
        ty: String,
        /// Name.
        #[arg(long)]
        name: String,
        /// Tenant.
        #[arg(long, required_unless_present = "admin", conflicts_with = "admin")]
        tenant: Option<String>,
        /// Administrative: a global model (shared by every tenant, such as `tenants`).
        #[arg(long)]
        admin: bool,
    },
}

pub(crate) async fn entity(data_dir: &Path, json_out: bool, cmd: EntityCmd) -> Result<()> {
    let (EntityCmd::Put { tenant, admin, .. }
    | EntityCmd::Get { tenant, admin, .. }
    | EntityCmd::Delete { tenant, admin, .. }) = &cmd;
    match (tenant, admin) {
        (Some(t), false) => check_tenant(t)?,
        (None, true) => {}
        _ => return Err(bad_input("give --tenant TENANT, or --admin for a global model")),
    }
    let p = open(data_dir).await?;
    let show = |e: &Map<String, Value>| {
        print(json_out, &Value::Object(e.clone()), || {
            let mut t = Table::new(&[("field", Align::Left), ("value", Align::Left)]);
            for (k, v) in e.iter().filter(|(_, v)| !v.is_null()) {
                t.row(vec![k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)]);
            }
            t.render(Style::detect())
        });
    };
    match cmd {
        EntityCmd::Put { ty, name, tenant, admin, data } => {
            let data: Map<String, Value> = match serde_json::from_str(&data) {
                Ok(Value::Object(m)) => m,
                Ok(_) => return Err(bad_input("--data must be a JSON object")),
                Err(e) => return Err(bad_input(format!("--data is not JSON: {e}"))),
            };
            if admin {
                let id = p.admin_put(&ty, &name, data).await?;
                print(json_out, &json!({"id": id, "type": ty, "name": name, "admin": true}), || {
                    format!("stored {ty} {name} (global) as {id}")
                });
                return Ok(());
            }
            let tenant = tenant.unwrap_or_default();
            let s = p.store_entity_with_reverse_mapping(&name, &ty, data, &tenant).await?;
            print(
                json_out,
                &json!({"id": s.id, "storage_key": s.storage_key, "type": s.entity_type, "name": s.name, "tenant": s.tenant}),
                || format!("stored {} {} as {}", s.entity_type, s.name, s.storage_key),
            );
        }
        EntityCmd::Get { ty, name, key, tenant, admin } => {
            let found = match (ty, name, key, admin) {
                (Some(t), Some(n), None, true) => p.admin_get(&t, &n).await?,
                (_, _, _, true) => return Err(bad_input("with --admin, give --type and --name")),
                (_, _, Some(k), false) => {
                    p.get_entities_by_storage_key(&k, tenant.as_deref().unwrap_or_default()).await?.into_iter().next()
                }
                (Some(t), Some(n), None, false) => {
                    p.get_entity_by_name(&n, &t, tenant.as_deref().unwrap_or_default()).await?
                }
                _ => return Err(bad_input("give --type and --name, or --key TYPE/ID")),
            };
            match found {
                Some(e) => show(&e),
                None => {
                    let scope = tenant.map_or_else(|| "the global models".to_owned(), |t| format!("tenant {t}"));
                    return Err(not_found(format!("no such entity in {scope}")));
                }
            }
        }
        EntityCmd::Delete { ty, name, tenant, admin } => {
            if admin {
                if !p.admin_delete(&ty, &name).await? {
                    return Err(not_found(format!("no global {ty} named {name:?}")));
                }
                print(json_out, &json!({"name": name, "deleted": true}), || format!("deleted {ty} {name}"));
                return Ok(());
            }
            let tenant = tenant.unwrap_or_default();
            let e = p
                .get_entity_by_name(&name, &ty, &tenant)
                .await?
                .ok_or_else(|| not_found(format!("no {ty} named {name:?} in tenant {tenant}")))?;
            let id = e.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
            p.delete_entity(&ty, &id, &tenant).await?;
            print(json_out, &json!({"id": id, "deleted": true}), || format!("deleted {ty} {name}"));
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn search(
    data_dir: &Path,
    json_out: bool,
    text: &str,
    ty: &str,
    tenant: &str,
    limit: usize,
    metric: Metric,
    mode: p8fs_core::QueryMode,
    fusion: p8fs_core::Fusion,
) -> Result<()> {
    check_tenant(tenant)?;
    if limit == 0 {
        return Err(bad_input("--limit must be at least 1"));
    }
    let p = open(data_dir).await?;
    let opts = SearchOptions { metric, limit, ..Default::default() };
    let r = p.search(ty, tenant, text, mode, &opts, fusion).await?;
    let hits: Vec<HitRow> = r.hits.iter().map(HitRow::new).collect();
    if json_out {
        println!("{}", serde_json::to_string(&hits)?);
    } else if hits.is_empty() {
        println!("no {ty} in tenant {tenant} matched");
    } else {
        let mut t = Table::new(&[("score", Align::Right), ("name", Align::Left), ("id", Align::Left)]);
        for h in &hits {
            t.row(vec![h.score_cell(), h.name_cell().to_owned(), h.id.clone()]);
        }
        println!("{}", t.render(Style::detect()));
    }
    Ok(())
}
