//! `p8fs import` and `p8fs export`: entities as JSON lines, one entity per line.
//!
//! Export writes each entity as stored (its `id` and fields; the tenant and the timestamps
//! p8fs sets are left out), so `import` of an export into the same tenant reproduces the
//! same entities with the same ids. `--fresh-ids` drops the ids, for a copy into another
//! tenant of the same database (ids are unique per table).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use p8fs_core::P8fs;
use p8fs_core::sql::entity::EntityQuery;
use p8fs_core::sql::entity::codec::json_kind;
use serde_json::{Map, Value, json};

use crate::cmds::{BadInput, check_tenant, open};
use crate::output::{Style, progress, spinner};

/// Entities per store call.
const IMPORT_BATCH: usize = 200;

/// Entities per page read by export.
const EXPORT_PAGE: u64 = 500;

/// Fields p8fs sets itself: an export leaves them out, an import ignores them.
const SET_BY_P8FS: [&str; 3] = ["tenant_id", "created_at", "updated_at"];

/// One line that could not be imported.
struct Skipped {
    line: usize,
    reason: String,
}

/// A store error, with what to do when ids of the file are taken by another tenant.
/// `which` names the entities (`lines 3..=202`).
fn store_error(e: p8fs_core::Error, which: &str) -> anyhow::Error {
    let taken = match &e {
        p8fs_core::Error::Sql(s) => s.kind() == p8fs_core::sql::ErrorKind::UniqueViolation,
        _ => false,
    };
    if taken {
        return BadInput(format!(
            "storing the entities of {which}: an id is already used by an entity of another tenant \
             (ids are unique per table); import with --fresh-ids to give the entities new ids"
        ))
        .into();
    }
    anyhow::Error::new(e).context(format!("storing the entities of {which}"))
}

/// Parses and checks one line: the entity's name and its data as it will be stored.
fn parse_line(p: &P8fs, ty: &str, tenant: &str, text: &str, fresh_ids: bool) -> Result<(String, Map<String, Value>)> {
    let mut data = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => m,
        Ok(other) => anyhow::bail!("expected a JSON object, got {}", json_kind(&other)),
        Err(e) => anyhow::bail!("not JSON: {e}"),
    };
    for f in SET_BY_P8FS {
        data.remove(f);
    }
    if fresh_ids {
        data.remove("id");
    }
    let model = p.model(ty)?;
    let name_field = model.key_field().unwrap_or("name");
    let name = match data.get(name_field) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(other) => anyhow::bail!("{name_field} must be a non-empty string, got {other}"),
        None => anyhow::bail!("no {name_field:?} field (the name the entity is stored and found under)"),
    };
    if model.key_field().is_none() && model.field("name").is_none() {
        // A model without a key field or a name column: the name lives in the mapping only.
        data.remove("name");
    }
    let data = p.validate_entity(ty, tenant, &name, data)?;
    Ok((name, data))
}

/// The lines of `file` (`-` for stdin), numbered from 1, blank lines dropped.
fn read_lines(file: &Path) -> Result<Vec<(usize, String)>> {
    let reader: Box<dyn BufRead> = if file.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        let f = File::open(file).map_err(|e| BadInput(format!("cannot read {}: {e}", file.display())))?;
        Box::new(BufReader::new(f))
    };
    let mut out = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| BadInput(format!("{}: line {}: {e}", file.display(), i + 1)))?;
        if !line.trim().is_empty() {
            out.push((i + 1, line));
        }
    }
    Ok(out)
}

/// `p8fs import FILE --type T --tenant X [--strict] [--fresh-ids]`.
pub(crate) async fn import(
    data_dir: &Path,
    json_out: bool,
    file: &Path,
    ty: &str,
    tenant: &str,
    strict: bool,
    fresh_ids: bool,
) -> Result<()> {
    check_tenant(tenant)?;
    let lines = read_lines(file)?;
    let p = open(data_dir).await?;
    p.model(ty).map_err(|e| BadInput(e.to_string()))?;
    let t = Instant::now();
    let mut skipped: Vec<Skipped> = Vec::new();
    let mut imported = 0usize;
    let bar = progress(lines.len() as u64, "importing");
    if strict {
        // Every line checked before the first write: a bad line stops the import with
        // nothing written.
        let mut good = Vec::with_capacity(lines.len());
        for (n, text) in &lines {
            match parse_line(&p, ty, tenant, text, fresh_ids) {
                Ok(e) => good.push(e),
                Err(e) => {
                    bar.finish_and_clear();
                    return Err(BadInput(format!(
                        "{}: line {n}: {e:#}; nothing was imported (--strict)",
                        file.display()
                    ))
                    .into());
                }
            }
        }
        for chunk in good.chunks(IMPORT_BATCH) {
            p.store_entities_with_reverse_mappings(ty, tenant, chunk.to_vec())
                .await
                .map_err(|e| store_error(e, &format!("entities {}..={}", imported + 1, imported + chunk.len())))?;
            imported += chunk.len();
            bar.inc(chunk.len() as u64);
        }
    } else {
        let mut batch = Vec::with_capacity(IMPORT_BATCH);
        let mut batch_lines = Vec::with_capacity(IMPORT_BATCH);
        let flush =
            async |batch: &mut Vec<(String, Map<String, Value>)>, batch_lines: &mut Vec<usize>| -> Result<usize> {
                if batch.is_empty() {
                    return Ok(0);
                }
                let n = batch.len();
                let first = batch_lines.first().copied().unwrap_or(0);
                let last = batch_lines.last().copied().unwrap_or(0);
                p.store_entities_with_reverse_mappings(ty, tenant, std::mem::take(batch))
                    .await
                    .map_err(|e| store_error(e, &format!("lines {first}..={last}")))?;
                batch_lines.clear();
                Ok(n)
            };
        for (n, text) in &lines {
            match parse_line(&p, ty, tenant, text, fresh_ids) {
                Ok(e) => {
                    batch.push(e);
                    batch_lines.push(*n);
                }
                Err(e) => {
                    let reason = format!("{e:#}");
                    bar.suspend(|| eprintln!("p8fs: {}: line {n}: {reason}; skipped", file.display()));
                    skipped.push(Skipped { line: *n, reason });
                }
            }
            if batch.len() == IMPORT_BATCH {
                let done = flush(&mut batch, &mut batch_lines).await?;
                imported += done;
                bar.inc(done as u64);
            }
            bar.set_position((imported + skipped.len() + batch.len()) as u64);
        }
        imported += flush(&mut batch, &mut batch_lines).await?;
    }
    bar.finish_and_clear();
    let elapsed = t.elapsed();
    let rate = imported as f64 / elapsed.as_secs_f64().max(1e-9);
    if json_out {
        let skipped: Vec<Value> = skipped.iter().map(|s| json!({"line": s.line, "reason": s.reason})).collect();
        println!(
            "{}",
            json!({"imported": imported, "skipped": skipped, "type": ty, "tenant": tenant, "seconds": elapsed.as_secs_f64()})
        );
    } else {
        let style = Style::detect();
        let mut msg = format!(
            "{} {imported} {ty} into tenant {tenant} in {:.2} s ({rate:.0}/s)",
            style.green("imported"),
            elapsed.as_secs_f64()
        );
        if !skipped.is_empty() {
            let lines: Vec<String> = skipped.iter().take(10).map(|s| s.line.to_string()).collect();
            let more = if skipped.len() > 10 { ", ..." } else { "" };
            msg.push_str(&format!(
                "; {} {} (lines {}{more})",
                style.yellow("skipped"),
                skipped.len(),
                lines.join(", ")
            ));
        }
        println!("{msg}");
    }
    Ok(())
}

/// `p8fs export --type T --tenant X [--output FILE]`.
pub(crate) async fn export(data_dir: &Path, ty: &str, tenant: &str, output: Option<PathBuf>) -> Result<()> {
    check_tenant(tenant)?;
    let p = open(data_dir).await?;
    let model = p.model(ty).map_err(|e| BadInput(e.to_string()))?;
    let mut out: Box<dyn Write> = match &output {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).map_err(|e| BadInput(format!("cannot write {}: {e}", path.display())))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let bar = spinner("exporting");
    let t = Instant::now();
    let mut offset = 0u64;
    let mut n = 0u64;
    loop {
        let q = EntityQuery::parse(&model, &Map::new(), &["id".to_owned()], Some(EXPORT_PAGE), Some(offset))?;
        let rows = p.select(ty, tenant, &q).await?;
        for mut row in rows.iter().cloned() {
            for f in SET_BY_P8FS {
                row.remove(f);
            }
            row.retain(|_, v| !v.is_null());
            if model.key_field().is_none() && !row.contains_key("name") {
                // The name lives in the mapping only; import reads it from "name".
                let id = row.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
                if let Some(r) = p.mappings().reverse(tenant, &id, ty).await? {
                    row.insert("name".into(), Value::String(r.name));
                }
            }
            serde_json::to_writer(&mut out, &row)?;
            out.write_all(b"\n")?;
            n += 1;
        }
        bar.set_position(n);
        if (rows.len() as u64) < EXPORT_PAGE {
            break;
        }
        offset += EXPORT_PAGE;
    }
    out.flush()?;
    bar.finish_and_clear();
    if let Some(path) = output {
        eprintln!("exported {n} {ty} of tenant {tenant} to {} in {:.2} s", path.display(), t.elapsed().as_secs_f64());
    }
    Ok(())
}
