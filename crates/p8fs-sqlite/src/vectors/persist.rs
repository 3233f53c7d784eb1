//! HNSW indexes saved next to the database file, so a new process loads an index instead
//! of building it again (minutes at a million rows).
//!
//! Files live in `<database>.vindex/<db id>/`, one per table, tenant and metric, named
//! `<table>.<tenant hash>.<metric>.<seq>.usearch`: the index as it was when the log entry
//! `seq` had been applied. A file is written to a temporary name, flushed to disk and
//! renamed, so a crash leaves the old file or the new one, never half of one; the tenant's
//! name is kept beside it (`.tenant`) and checked on load. The database's id (a random value
//! kept in `p8fs_vindex_meta`) keeps a restored or copied database from meeting another's
//! files.
//!
//! A loaded index is brought up to date from the log: every row the log names after the
//! file's `seq` is removed from the index and added again from what the process holds. When
//! the log no longer reaches back that far (trimmed), or the index's rows do not match the
//! partition's afterwards, the file is not used and the index is built from the rows.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use p8fs_sql_dialect::Metric;
use rusqlite::{Connection, OpenFlags, params};
use usearch::Index;

/// Where one database's index files go.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    /// The database file.
    db: PathBuf,
    /// `<database>.vindex/<db id>`.
    dir: PathBuf,
}

fn fnv64(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

impl Store {
    /// The store of the database at `db`, whose id is `db_id`.
    pub(crate) fn new(db: &Path, db_id: &str) -> Self {
        let mut dir = db.as_os_str().to_owned();
        dir.push(".vindex");
        Self { db: db.to_owned(), dir: PathBuf::from(dir).join(db_id) }
    }

    fn prefix(table: &str, tenant: &str, metric: Metric) -> String {
        format!("{table}.{:016x}.{}.", fnv64(tenant), metric.name())
    }

    /// The newest file of the partition and its `seq`.
    fn newest(&self, table: &str, tenant: &str, metric: Metric) -> Option<(PathBuf, i64)> {
        let prefix = Self::prefix(table, tenant, metric);
        let tenant_file = self.dir.join(format!("{prefix}tenant"));
        if std::fs::read_to_string(&tenant_file).ok()? != tenant {
            return None;
        }
        std::fs::read_dir(&self.dir)
            .ok()?
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                let seq = name.strip_prefix(&prefix)?.strip_suffix(".usearch")?.parse::<i64>().ok()?;
                Some((self.dir.join(name), seq))
            })
            .max_by_key(|(_, seq)| *seq)
    }

    /// Loads the partition's newest index and the rows the log names after it (on a
    /// connection of its own); `None` when there is no usable file or the log no longer
    /// covers it.
    pub(crate) fn load(
        &self,
        table: &str,
        tenant: &str,
        metric: Metric,
        held_seq: i64,
        index: impl FnOnce() -> Option<Index>,
    ) -> Option<(Index, HashSet<i64>)> {
        let (file, seq) = self.newest(table, tenant, metric)?;
        let conn = Connection::open_with_flags(&self.db, OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
        let log = format!("\"p8fs_vlog_{}\"", table.replace('"', "\"\""));
        let from = seq.min(held_seq);
        let (min, max): (Option<i64>, Option<i64>) = conn
            .query_row(&format!("SELECT min(seq), max(seq) FROM {log}"), [], |r| Ok((r.get(0)?, r.get(1)?)))
            .ok()?;
        // The log must hold every entry after `from` (entries are trimmed from the front),
        // and the file must not come from a future this database never had (a restored copy).
        if min.is_some_and(|m| m > from + 1) || max.unwrap_or(0) < seq {
            return None;
        }
        let mut stmt = conn.prepare(&format!("SELECT DISTINCT rid FROM {log} WHERE seq > ?1")).ok()?;
        let changed: HashSet<i64> =
            stmt.query_map(params![from], |r| r.get::<_, i64>(0)).ok()?.collect::<Result<_, _>>().ok()?;
        let index = index()?;
        index.load(file.to_str()?).ok()?;
        Some((index, changed))
    }

    /// Saves the partition's index as of log entry `seq`, replacing older files. Failures
    /// are ignored: the file only saves a later process a build.
    pub(crate) fn save(&self, table: &str, tenant: &str, metric: Metric, seq: i64, index: &Index) {
        let _ = self.try_save(table, tenant, metric, seq, index);
    }

    fn try_save(&self, table: &str, tenant: &str, metric: Metric, seq: i64, index: &Index) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let prefix = Self::prefix(table, tenant, metric);
        let tenant_file = self.dir.join(format!("{prefix}tenant"));
        if std::fs::read_to_string(&tenant_file).ok().as_deref() != Some(tenant) {
            write_atomically(&tenant_file, |tmp| std::fs::write(tmp, tenant))?;
        }
        let file = self.dir.join(format!("{prefix}{seq}.usearch"));
        write_atomically(&file, |tmp| {
            let p = tmp.to_str().ok_or_else(|| std::io::Error::other("a path that is not UTF-8"))?;
            index.save(p).map_err(|e| std::io::Error::other(e.to_string()))
        })?;
        for e in std::fs::read_dir(&self.dir)?.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            let Some(rest) = name.strip_prefix(&prefix) else { continue };
            // Older files, and the temporary files of a process that crashed while saving.
            let older = rest.strip_suffix(".usearch").is_some_and(|s| s.parse::<i64>().is_ok_and(|s| s != seq));
            if older || rest.contains(".tmp") {
                let _ = std::fs::remove_file(e.path());
            }
        }
        Ok(())
    }
}

/// Writes `path` through a temporary file: written, flushed to disk, renamed, and the
/// directory flushed, so a crash leaves the old file or the new one.
fn write_atomically(path: &Path, write: impl FnOnce(&Path) -> std::io::Result<()>) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    write(&tmp)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
