//! `p8fs import` and `p8fs export`: entities as JSON lines, one entity per line.
//!
//! Export writes each entity as stored (its `id` and fields; the tenant and the timestamps
//! p8fs sets are left out), so `import` of an export into the same tenant reproduces the
//! same entities with the same ids. Ids are unique per tenant, so an import into another
//! tenant keeps them too; `--fresh-ids` drops them (ids then derive from the new tenant
//! and the name).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use p8fs_core::sql::entity::EntityQuery;
use p8fs_core::sql::entity::codec::json_kind;
use p8fs_core::{Error as CoreError, ErrorKind, P8fs};
use serde_json::{Map, Value, json};

use crate::cmds::{bad_input, check_tenant, open};
use crate::lines::Source;
use crate::output::{Style, progress, spinner};

/// Most entities per store call.
const IMPORT_BATCH: usize = 200;

/// Most JSON text per store call: large lines make smaller batches, so memory stays
/// bounded whatever the lines hold.
const IMPORT_BATCH_BYTES: usize = 8 * 1024 * 1024;

/// Entities per page read by export.
const EXPORT_PAGE: u64 = 500;

/// Fields p8fs sets itself: an export leaves them out, an import ignores them.
const SET_BY_P8FS: [&str; 3] = ["tenant_id", "created_at", "updated_at"];

/// One line that could not be imported.
struct Skipped {
    line: usize,
    reason: String,
}

/// A store error, with what to do when an id of the file is taken by another entity of
/// the tenant (a conflict: exit status 2, like bad input).
/// `which` names the entities (`lines 3..=202`).
fn store_error(e: CoreError, which: &str) -> anyhow::Error {
    let what = if e.kind() == ErrorKind::Conflict {
        format!(
            "storing the entities of {which}: an id of the file is already used by another entity of this \
             tenant; import with --fresh-ids to give the entities new ids"
        )
    } else {
        format!("storing the entities of {which}")
    };
    anyhow::Error::new(e).context(what)
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

/// Entities parsed and waiting to be stored, with the line numbers they came from.
#[derive(Default)]
struct Batch {
    entities: Vec<(String, Map<String, Value>)>,
    lines: Vec<usize>,
    /// The JSON text of the entities, to bound a batch of large lines.
    bytes: usize,
}

impl Batch {
    fn push(&mut self, line: usize, text_len: usize, entity: (String, Map<String, Value>)) {
        self.entities.push(entity);
        self.lines.push(line);
        self.bytes += text_len;
    }

    fn full(&self) -> bool {
        self.entities.len() >= IMPORT_BATCH || self.bytes >= IMPORT_BATCH_BYTES
    }

    /// Stores the batch (emptying it); returns how many entities it held.
    async fn store(&mut self, p: &P8fs, ty: &str, tenant: &str) -> Result<usize> {
        if self.entities.is_empty() {
            return Ok(0);
        }
        let n = self.entities.len();
        let first = self.lines.first().copied().unwrap_or(0);
        let last = self.lines.last().copied().unwrap_or(0);
        p.store_entities_with_reverse_mappings(ty, tenant, std::mem::take(&mut self.entities))
            .await
            .map_err(|e| store_error(e, &format!("lines {first}..={last}")))?;
        self.lines.clear();
        self.bytes = 0;
        Ok(n)
    }
}

/// `p8fs import FILE --type T --tenant X [--strict] [--fresh-ids]`.
///
/// The file is streamed: at most one batch of entities ([`IMPORT_BATCH`] entities or
/// [`IMPORT_BATCH_BYTES`] of JSON) is in memory at a time. `--strict` reads the input twice:
/// every line is checked first, then the lines are read again and written.
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
    let source = Source::new(file);
    let name = source.name();
    let mut lines = source.lines(strict)?;
    let p = open(data_dir).await?;
    p.model(ty)?;
    let t = Instant::now();
    let mut skipped: Vec<Skipped> = Vec::new();
    let mut imported = 0usize;
    let mut batch = Batch::default();
    if strict {
        // Every line checked before the first write: a bad line stops the import with
        // nothing written. Nothing is kept but the count.
        let bar = spinner("checking");
        let mut good = 0u64;
        while let Some((n, text)) = lines.next_line()? {
            if let Err(e) = parse_line(&p, ty, tenant, text, fresh_ids) {
                bar.finish_and_clear();
                return Err(bad_input(format!("{name}: line {n}: {e:#}; nothing was imported (--strict)")));
            }
            good += 1;
            bar.set_position(good);
        }
        bar.finish_and_clear();
        let bar = progress(good, "importing");
        let mut lines = lines.again(&source)?;
        while let Some((n, text)) = lines.next_line()? {
            let len = text.len();
            // Checked in the first pass; failing now means the input changed since.
            let entity = parse_line(&p, ty, tenant, text, fresh_ids).map_err(|e| {
                bad_input(format!(
                    "{name}: line {n}: {e:#}; the input changed after it was checked; {imported} entities were imported"
                ))
            })?;
            batch.push(n, len, entity);
            if batch.full() {
                let done = batch.store(&p, ty, tenant).await?;
                imported += done;
                bar.inc(done as u64);
            }
        }
        imported += batch.store(&p, ty, tenant).await?;
        bar.finish_and_clear();
    } else {
        let bar = spinner("importing");
        while let Some((n, text)) = lines.next_line()? {
            let len = text.len();
            match parse_line(&p, ty, tenant, text, fresh_ids) {
                Ok(e) => batch.push(n, len, e),
                Err(e) => {
                    let reason = format!("{e:#}");
                    bar.suspend(|| eprintln!("p8fs: {name}: line {n}: {reason}; skipped"));
                    skipped.push(Skipped { line: n, reason });
                }
            }
            if batch.full() {
                imported += batch.store(&p, ty, tenant).await?;
            }
            bar.set_position((imported + skipped.len() + batch.entities.len()) as u64);
        }
        imported += batch.store(&p, ty, tenant).await?;
        bar.finish_and_clear();
    }
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
    let model = p.model(ty)?;
    let mut out: Box<dyn Write> = match &output {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).map_err(|e| bad_input(format!("cannot write {}: {e}", path.display())))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let bar = spinner("exporting");
    let t = Instant::now();
    let mut offset = 0u64;
    let mut n = 0u64;
    loop {
        let q = EntityQuery::parse(&model, &Map::new(), &["id".to_owned()], Some(EXPORT_PAGE), Some(offset))
            .map_err(CoreError::from)?;
        let rows = p.select(ty, tenant, &q).await?;
        for mut row in rows.iter().cloned() {
            for f in SET_BY_P8FS {
                row.remove(f);
            }
            row.retain(|_, v| !v.is_null());
            if model.key_field().is_none() && !row.contains_key("name") {
                // The name lives in the mapping only; import reads it from "name".
                let id = row.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
                if let Some(r) = p.mappings().reverse(tenant, &id, ty).await.map_err(CoreError::from)? {
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
