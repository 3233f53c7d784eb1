//! One tenant's rows of one embeddings table: vectors stored contiguously for exact scans,
//! and an HNSW index per metric once an approximate search asks for one.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;

use numkong::{Dot, Euclidean};
use p8fs_sql_dialect::{Error, ErrorKind, Metric, NearestAnswer, NearestHit, Result};
use rayon::prelude::*;
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use super::VectorMemory;

/// Scans of at least this many rows are split over the cores (rayon's pool: waking its
/// threads costs microseconds, scanning 4,096 rows of 384 dimensions about 0.2 ms).
const PARALLEL_ROWS: usize = 4_096;

/// The candidates an approximate search asks the index for when the caller names none:
/// `max(4 x limit, 40, 32 x log2(rows / 6,250))`. The search widens to the candidate
/// count (usearch searches with `max(expansion, count)`), and a graph of more rows needs a
/// wider search for the same recall: measured on 384-dimension text-like vectors
/// (M = 16, 8-bit cosine), recall@10 after the exact re-rank was 0.95 at 100,000 rows and
/// 0.87 at 1,000,000 with 40 candidates, 0.99 with 128 at 100,000 and 0.98-0.99 with
/// 200-256 at 1,000,000 (ADR 0017).
pub(crate) fn default_candidates(limit: usize, rows: usize) -> usize {
    let grown = (32.0 * (rows as f64 / 6_250.0).log2()).ceil();
    let grown = if grown.is_finite() && grown > 0.0 { grown as usize } else { 0 };
    (limit * 4).max(40).max(grown)
}

/// A search of one partition.
#[derive(Debug, Clone, Copy)]
pub(super) struct Search<'a> {
    pub(super) query: &'a [f32],
    pub(super) metric: Metric,
    pub(super) fields: &'a [String],
    pub(super) limit: usize,
    pub(super) exact: bool,
    pub(super) candidates: Option<usize>,
}

#[derive(Default)]
pub(super) struct Partition {
    /// Dimensions of every vector held (0 before the first).
    dim: usize,
    rowids: Vec<i64>,
    entities: Vec<Box<str>>,
    fields: Vec<u16>,
    field_names: Vec<Box<str>>,
    /// `dim` floats per row, row after row.
    vectors: Vec<f32>,
    /// Each row's Euclidean norm (for cosine).
    norms: Vec<f64>,
    slot_of: HashMap<i64, usize>,
    /// Rows whose vector has other dimensions than `dim` (rowid to dimensions): a search
    /// that would compare one fails, as the SQL path does.
    odd: HashMap<i64, (u16, usize)>,
    /// One per metric ([`metric_slot`]), built by the first approximate search.
    indexes: [Option<Index>; 3],
}

impl fmt::Debug for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Partition")
            .field("dim", &self.dim)
            .field("rows", &self.rowids.len())
            .field("indexes", &self.indexes.iter().filter(|i| i.is_some()).count())
            .finish_non_exhaustive()
    }
}

fn metric_slot(m: Metric) -> usize {
    match m {
        Metric::Cosine => 0,
        Metric::L2 => 1,
        Metric::InnerProduct => 2,
    }
}

fn index_error(e: impl fmt::Display) -> Error {
    Error::new(ErrorKind::Database, format!("the HNSW index failed: {e}")).with_backend("sqlite")
}

fn dims_error(stored: usize, query: usize) -> Error {
    Error::new(ErrorKind::InvalidInput, format!("a stored vector has {stored} dimensions, the query {query}"))
        .with_backend("sqlite")
}

/// The candidate distance of the scan (f64 sums from SIMD kernels; not yet bit-equal to
/// [`Metric::distance`], which the candidates are re-ranked by).
fn fast_distance(metric: Metric, q: &[f32], q_norm: f64, v: &[f32], v_norm: f64) -> f64 {
    match metric {
        Metric::InnerProduct => -f32::dot(q, v).unwrap_or(f64::NAN),
        Metric::L2 => f32::euclidean(q, v).unwrap_or(f64::NAN),
        Metric::Cosine => {
            let dot = f32::dot(q, v).unwrap_or(f64::NAN);
            if v_norm == 0.0 || q_norm == 0.0 { 1.0 } else { 1.0 - dot / (q_norm * v_norm) }
        }
    }
}

impl Partition {
    pub(super) fn len(&self) -> usize {
        self.rowids.len() + self.odd.len()
    }

    pub(super) fn has_index(&self, metric: Metric) -> bool {
        self.indexes[metric_slot(metric)].is_some()
    }

    fn field_id(&mut self, field: &str) -> Result<u16> {
        if let Some(i) = self.field_names.iter().position(|f| &**f == field) {
            return Ok(i as u16);
        }
        let i = u16::try_from(self.field_names.len())
            .map_err(|_| Error::invalid_input("more than 65,535 embedded field names in one tenant"))?;
        self.field_names.push(field.into());
        Ok(i)
    }

    /// Adds a row (the caller removed any earlier version of it).
    pub(super) fn put(&mut self, rid: i64, entity: &str, field: &str, blob: &[u8]) -> Result<()> {
        let n = blob.len() / 4;
        let field = self.field_id(field)?;
        if self.rowids.is_empty() && self.dim != n {
            // The first vector (again) sets the dimensions; no index holds rows of others.
            self.dim = n;
            self.indexes = Default::default();
        }
        if n != self.dim {
            self.odd.insert(rid, (field, n));
            return Ok(());
        }
        let slot = self.rowids.len();
        self.rowids.push(rid);
        self.entities.push(entity.into());
        self.fields.push(field);
        self.vectors.extend(blob.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])));
        self.slot_of.insert(rid, slot);
        let v = &self.vectors[slot * n..];
        self.norms.push(f32::dot(v, v).unwrap_or(0.0).sqrt());
        for ix in &mut self.indexes {
            // An index that cannot take the row is dropped; the next approximate search
            // builds it again from every row.
            if let Some(index) = ix
                && add(index, rid, v).is_err()
            {
                *ix = None;
            }
        }
        Ok(())
    }

    pub(super) fn remove(&mut self, rid: i64) {
        if self.odd.remove(&rid).is_some() {
            return;
        }
        let Some(slot) = self.slot_of.remove(&rid) else { return };
        let last = self.rowids.len() - 1;
        let d = self.dim;
        self.rowids.swap_remove(slot);
        self.entities.swap_remove(slot);
        self.fields.swap_remove(slot);
        self.norms.swap_remove(slot);
        if slot != last {
            self.vectors.copy_within(last * d..(last + 1) * d, slot * d);
            self.slot_of.insert(self.rowids[slot], slot);
        }
        self.vectors.truncate(last * d);
        for ix in &mut self.indexes {
            if let Some(index) = ix
                && index.remove(rid as u64).is_err()
            {
                *ix = None;
            }
        }
    }

    /// An empty index for `metric` with this partition's dimensions. Cosine vectors are
    /// held as 8-bit integers (normalised first, so nothing is clipped), the others as
    /// 16-bit floats; candidates are re-ranked from the exact `f32` vectors.
    pub(super) fn new_index(&self, metric: Metric) -> Result<Index> {
        let (kind, quantization) = match metric {
            Metric::Cosine => (MetricKind::Cos, ScalarKind::I8),
            Metric::L2 => (MetricKind::L2sq, ScalarKind::F16),
            Metric::InnerProduct => (MetricKind::IP, ScalarKind::F16),
        };
        let opts = IndexOptions {
            dimensions: self.dim,
            metric: kind,
            quantization,
            connectivity: 16,
            expansion_add: 128,
            expansion_search: 64,
            multi: false,
        };
        Index::new(&opts).map_err(index_error)
    }

    /// The index for `metric`, when built.
    pub(super) fn index(&self, metric: Metric) -> Option<&Index> {
        self.indexes[metric_slot(metric)].as_ref()
    }

    /// Takes a saved index (see [`super::persist`]) after bringing it up to date: every row in
    /// `changed` is removed from it and added again from what is held. `false` (and the
    /// index is dropped) when it does not then hold exactly this partition's rows.
    pub(super) fn adopt_index(
        &mut self,
        metric: Metric,
        index: Index,
        changed: &std::collections::HashSet<i64>,
    ) -> bool {
        if self.has_index(metric) || index.dimensions() != self.dim {
            return false;
        }
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        if index.reserve_capacity_and_threads(index.size() + changed.len() + 16, threads).is_err() {
            return false;
        }
        for rid in changed {
            if index.contains(*rid as u64) && index.remove(*rid as u64).is_err() {
                return false;
            }
            if let Some(slot) = self.slot_of.get(rid)
                && add(&index, *rid, self.vector(*slot)).is_err()
            {
                return false;
            }
        }
        // Every row held, and nothing else.
        if index.size() != self.rowids.len() || self.rowids.iter().step_by(97).any(|r| !index.contains(*r as u64)) {
            return false;
        }
        self.indexes[metric_slot(metric)] = Some(index);
        true
    }

    /// Builds the HNSW index for `metric` from every row, on every core.
    pub(super) fn build_index(&mut self, metric: Metric) -> Result<()> {
        if self.has_index(metric) {
            return Ok(());
        }
        let index = self.new_index(metric)?;
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let n = self.rowids.len();
        index.reserve_capacity_and_threads(n.max(16), threads).map_err(index_error)?;
        let (rowids, vectors, d) = (&self.rowids, &self.vectors, self.dim);
        let failed = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let index = &index;
                    s.spawn(move || {
                        (t..n)
                            .step_by(threads)
                            .find_map(|i| index.add(rowids[i] as u64, &vectors[i * d..(i + 1) * d]).err())
                    })
                })
                .collect();
            handles.into_iter().find_map(|h| h.join().ok().flatten())
        });
        if let Some(e) = failed {
            return Err(index_error(e));
        }
        self.indexes[metric_slot(metric)] = Some(index);
        Ok(())
    }

    fn check_dims(&self, s: &Search<'_>, allowed: &[bool]) -> Result<()> {
        if let Some((_, (_, n))) = self.odd.iter().find(|(_, (f, n))| allowed[usize::from(*f)] && *n != s.query.len()) {
            return Err(dims_error(*n, s.query.len()));
        }
        if !self.rowids.is_empty() && self.dim != s.query.len() && self.fields.iter().any(|f| allowed[usize::from(*f)])
        {
            return Err(dims_error(self.dim, s.query.len()));
        }
        Ok(())
    }

    fn vector(&self, slot: usize) -> &[f32] {
        &self.vectors[slot * self.dim..(slot + 1) * self.dim]
    }

    /// The search: exact, or through the index when it is asked for and built.
    pub(super) fn search(&self, s: &Search<'_>) -> Result<NearestAnswer> {
        let allowed: Vec<bool> = self
            .field_names
            .iter()
            .map(|f| s.fields.is_empty() || s.fields.iter().any(|x| x.as_str() == &**f))
            .collect();
        self.check_dims(s, &allowed)?;
        let index = if s.exact { None } else { self.indexes[metric_slot(s.metric)].as_ref() };
        if let Some(index) = index {
            let matching = self.fields.iter().filter(|f| allowed[usize::from(**f)]).count();
            let mut k = s.candidates.unwrap_or_else(|| default_candidates(s.limit, self.rowids.len())).max(s.limit);
            while k < self.rowids.len() {
                let found = index.search(s.query, k).map_err(index_error)?;
                let slots: Vec<usize> = found
                    .keys
                    .iter()
                    .filter_map(|key| self.slot_of.get(&(*key as i64)).copied())
                    .filter(|slot| allowed[usize::from(self.fields[*slot])])
                    .collect();
                if slots.len() >= s.limit.min(matching) {
                    return Ok(NearestAnswer {
                        hits: self.rerank(s, slots),
                        exact: false,
                        candidates_examined: Some(k),
                    });
                }
                // Too few of the candidates pass the field filter: ask for more.
                k = k.saturating_mul(4);
            }
        }
        Ok(NearestAnswer { hits: self.scan(s, &allowed), exact: true, candidates_examined: None })
    }

    /// Exact: every allowed row's distance by SIMD kernels, the best `limit` (and any row
    /// within rounding of the last of them) re-ranked by [`Metric::distance`].
    fn scan(&self, s: &Search<'_>, allowed: &[bool]) -> Vec<NearestHit> {
        let n = self.rowids.len();
        if n == 0 {
            return Vec::new();
        }
        let q_norm = f32::dot(s.query, s.query).unwrap_or(0.0).sqrt();
        let mut dist = vec![f64::INFINITY; n];
        let fill = |start: usize, out: &mut [f64]| {
            for (i, o) in out.iter_mut().enumerate() {
                let slot = start + i;
                if allowed[usize::from(self.fields[slot])] {
                    *o = fast_distance(s.metric, s.query, q_norm, self.vector(slot), self.norms[slot]);
                }
            }
        };
        let threads = rayon::current_num_threads();
        if n >= PARALLEL_ROWS && threads > 1 {
            let chunk = n.div_ceil(threads * 4).max(PARALLEL_ROWS / 2);
            dist.par_chunks_mut(chunk).enumerate().for_each(|(c, out)| fill(c * chunk, out));
        } else {
            fill(0, &mut dist);
        }
        let mut order: Vec<usize> = (0..n).filter(|i| dist[*i].is_finite()).collect();
        let keep = (s.limit * 2).max(s.limit + 16);
        if order.len() > keep {
            order.select_nth_unstable_by(keep - 1, |a, b| dist[*a].total_cmp(&dist[*b]));
            let edge = dist[order[keep - 1]];
            let slack = 1e-7 * (1.0 + edge.abs());
            let (head, tail) = order.split_at(keep);
            let mut chosen = head.to_vec();
            chosen.extend(tail.iter().copied().filter(|i| dist[*i] <= edge + slack));
            order = chosen;
        }
        self.rerank(s, order)
    }

    /// Exact distances of the candidate slots, best first (distance, then entity id), cut to
    /// the limit.
    fn rerank(&self, s: &Search<'_>, slots: Vec<usize>) -> Vec<NearestHit> {
        let mut scored: Vec<(f64, usize)> =
            slots.into_iter().map(|slot| (s.metric.distance(s.query, self.vector(slot)), slot)).collect();
        scored.sort_by(|a, b| match a.0.total_cmp(&b.0) {
            Ordering::Equal => self.entities[a.1].cmp(&self.entities[b.1]),
            o => o,
        });
        scored.truncate(s.limit);
        scored
            .into_iter()
            .map(|(distance, slot)| NearestHit {
                entity_id: self.entities[slot].to_string(),
                field: self.field_names[usize::from(self.fields[slot])].to_string(),
                distance,
            })
            .collect()
    }

    pub(super) fn add_memory(&self, m: &mut VectorMemory) {
        m.rows += self.len();
        m.exact_bytes += self.vectors.len() * 4
            + self.rowids.len() * (8 + 8 + 2 + 16)
            + self.entities.iter().map(|e| e.len()).sum::<usize>()
            + self.slot_of.capacity() * 16;
        for ix in self.indexes.iter().flatten() {
            m.indexes += 1;
            m.index_bytes += ix.memory_usage();
        }
    }
}

/// Adds a row to an index, growing it first when full.
fn add(index: &Index, rid: i64, v: &[f32]) -> std::result::Result<(), String> {
    if index.size() + 1 > index.capacity() {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        index.reserve_capacity_and_threads((index.capacity() * 2).max(16), threads).map_err(|e| e.to_string())?;
    }
    index.add(rid as u64, v).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::default_candidates;

    #[test]
    fn the_default_candidate_count_grows_with_the_partition() {
        assert_eq!(default_candidates(10, 0), 40);
        assert_eq!(default_candidates(10, 6_250), 40);
        assert_eq!(default_candidates(10, 100_000), 128);
        assert_eq!(default_candidates(10, 1_000_000), 235);
        assert_eq!(default_candidates(100, 100_000), 400, "4 x limit when that is more");
        let mut last = 0;
        for rows in (0..=10_000_000).step_by(50_000) {
            let k = default_candidates(10, rows);
            assert!(k >= last, "{rows}: {k} < {last}");
            last = k;
        }
    }
}
