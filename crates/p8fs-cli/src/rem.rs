//! `p8fs rem` (REM queries) and `p8fs edge` (graph edges).

use std::path::Path;

use anyhow::Result;
use clap::Subcommand;
use p8fs_core::rem::RemOptions;
use p8fs_core::{Edge, RemAnswer};
use serde_json::{Map, Value, json};

use crate::cmds::{bad_input, check_tenant, not_found, open};
use crate::output::{Align, Style, Table};

/// `p8fs edge ...`: the edges of an entity named by type and name.
#[derive(Debug, Subcommand)]
pub(crate) enum EdgeCmd {
    /// Add (or replace, by destination and relation type) an edge.
    Add {
        /// Entity type of the source.
        #[arg(long = "type")]
        ty: String,
        /// Name of the source.
        name: String,
        /// Destination name.
        #[arg(long)]
        dst: String,
        /// Relation type.
        #[arg(long)]
        rel: String,
        /// Weight.
        #[arg(long, default_value_t = 1.0)]
        weight: f64,
        /// Properties, a JSON object.
        #[arg(long)]
        properties: Option<String>,
        /// Tenant.
        #[arg(long)]
        tenant: String,
    },
    /// Remove the edges to a destination (of one relation type with `--rel`).
    Remove {
        /// Entity type of the source.
        #[arg(long = "type")]
        ty: String,
        /// Name of the source.
        name: String,
        /// Destination name.
        #[arg(long)]
        dst: String,
        /// Only this relation type.
        #[arg(long)]
        rel: Option<String>,
        /// Tenant.
        #[arg(long)]
        tenant: String,
    },
    /// List an entity's edges.
    List {
        /// Entity type.
        #[arg(long = "type")]
        ty: String,
        /// Name.
        name: String,
        /// Tenant.
        #[arg(long)]
        tenant: String,
    },
}

/// Runs a REM query and prints its answer.
pub(crate) async fn rem(
    data_dir: &Path,
    json_out: bool,
    query: &str,
    tenant: &str,
    threshold: Option<f64>,
    mode: p8fs_core::QueryMode,
) -> Result<()> {
    check_tenant(tenant)?;
    let p = open(data_dir).await?;
    let opts = RemOptions { threshold, mode, ..RemOptions::default() };
    let a = p.rem_with(query, tenant, &opts).await?;
    if json_out {
        println!("{}", serde_json::to_string(&a)?);
        return Ok(());
    }
    print_answer(&a);
    Ok(())
}

fn print_answer(a: &RemAnswer) {
    let style = Style::detect();
    if a.results.is_empty() {
        println!("{}: nothing found", a.kind);
    } else {
        // Only the columns this kind of answer fills.
        let scored = a.results.iter().any(|h| h.score.is_some());
        let walked = a.traversal.is_some();
        let mut headers = vec![("table", Align::Left), ("name", Align::Left), ("id", Align::Left)];
        if scored {
            headers.push(("score", Align::Right));
        }
        if walked {
            headers.extend([("depth", Align::Right), ("path", Align::Left)]);
        }
        let mut t = Table::new(&headers);
        for h in &a.results {
            let mut row = vec![h.table.clone(), h.name.clone().unwrap_or_default(), h.id.clone()];
            if scored {
                row.push(h.score.map(|s| format!("{s:.3}")).unwrap_or_default());
            }
            if walked {
                row.push(h.depth.map(|d| d.to_string()).unwrap_or_default());
                row.push(h.path.join(" > "));
            }
            t.row(row);
        }
        println!("{}", t.render(style));
    }
    if let Some(tr) = &a.traversal {
        let mode = if tr.plan_only { "plan (nothing fetched past the seeds)" } else { "traversal" };
        println!("{mode}: depth limit {}, {} edges", tr.max_depth, tr.summary.total);
        for s in &tr.stages {
            println!("  depth {}: {} nodes, {} edges", s.depth, s.nodes, s.edges);
        }
        for (rel, n) in &tr.summary.by_rel_type {
            println!("  {rel}: {n}");
        }
        if tr.summary.unresolved > 0 {
            println!("  {} edges lead to names this tenant does not have", tr.summary.unresolved);
        }
        if tr.truncated {
            println!("  stopped at the result limit");
        }
    }
}

/// The id of the entity `ty`/`name` in `tenant`.
async fn id_of(p: &p8fs_core::P8fs, ty: &str, name: &str, tenant: &str) -> Result<String> {
    let e = p
        .get_entity_by_name(name, ty, tenant)
        .await?
        .ok_or_else(|| not_found(format!("no {ty} named {name:?} in tenant {tenant}")))?;
    Ok(e.get("id").and_then(Value::as_str).unwrap_or_default().to_owned())
}

fn print_edges(json_out: bool, what: &str, edges: &[Edge], extra: Value) -> Result<()> {
    if json_out {
        let mut v = extra;
        if let Some(o) = v.as_object_mut() {
            o.insert("edges".into(), serde_json::to_value(edges)?);
        }
        println!("{}", serde_json::to_string(&v)?);
        return Ok(());
    }
    println!("{what}");
    if !edges.is_empty() {
        let mut t = Table::new(&[("rel_type", Align::Left), ("dst", Align::Left), ("weight", Align::Right)]);
        for e in edges {
            t.row(vec![e.rel_type.clone(), e.dst.clone(), format!("{}", e.weight)]);
        }
        println!("{}", t.render(Style::detect()));
    }
    Ok(())
}

/// Runs `p8fs edge ...`.
pub(crate) async fn edge(data_dir: &Path, json_out: bool, cmd: EdgeCmd) -> Result<()> {
    match cmd {
        EdgeCmd::Add { ty, name, dst, rel, weight, properties, tenant } => {
            check_tenant(&tenant)?;
            let properties: Map<String, Value> = match properties {
                Some(s) => serde_json::from_str(&s).map_err(|e| bad_input(format!("--properties: {e}")))?,
                None => Map::new(),
            };
            let p = open(data_dir).await?;
            let id = id_of(&p, &ty, &name, &tenant).await?;
            let edge = Edge { dst, rel_type: rel, weight, properties, created_at: None };
            let c = p.add_edges(&ty, &id, &[edge], &tenant).await?;
            let what = if c.added > 0 { "added" } else { "replaced" };
            print_edges(
                json_out,
                &format!("{what} an edge of {ty} {name}; it has {}", c.edges.len()),
                &c.edges,
                json!({"id": id, "added": c.added, "updated": c.updated}),
            )
        }
        EdgeCmd::Remove { ty, name, dst, rel, tenant } => {
            check_tenant(&tenant)?;
            let p = open(data_dir).await?;
            let id = id_of(&p, &ty, &name, &tenant).await?;
            let c = p.remove_edges(&ty, &id, &dst, rel.as_deref(), &tenant).await?;
            print_edges(
                json_out,
                &format!("removed {} edges of {ty} {name}; it has {}", c.removed, c.edges.len()),
                &c.edges,
                json!({"id": id, "removed": c.removed}),
            )
        }
        EdgeCmd::List { ty, name, tenant } => {
            check_tenant(&tenant)?;
            let p = open(data_dir).await?;
            let id = id_of(&p, &ty, &name, &tenant).await?;
            let edges = p.edges(&ty, &id, &tenant).await?;
            print_edges(json_out, &format!("{ty} {name}: {} edges", edges.len()), &edges, json!({"id": id}))
        }
    }
}
