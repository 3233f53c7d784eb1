//! The vectors of W4-W6 and W12: deterministic data shaped like text embeddings, exact
//! nearest neighbours by brute force, and the `bench_vecs` model.

use anyhow::Result;
use p8fs_sql_dialect::model::{FieldType as T, Model};

/// Deterministic vectors shaped like text embeddings: a point of a 24-dimension latent
/// space (about normal) mapped into `dim` dimensions by one fixed random projection, plus
/// a little noise. Like real embeddings they have low intrinsic dimension, so nearest
/// neighbours mean something (uniform noise in 768 dimensions makes all distances nearly
/// equal, which no index, and no application, is built for).
pub(super) fn vectors(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
    const LATENT: usize = 24;
    fn rng(seed: u64) -> impl FnMut() -> f64 {
        let mut s = seed.max(1);
        move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        }
    }
    // The projection is the same for every call (data and queries share the space).
    let mut p = rng(0x5eed);
    let proj: Vec<Vec<f64>> = (0..LATENT).map(|_| (0..dim).map(|_| p()).collect()).collect();
    let mut next = rng(seed);
    (0..n)
        .map(|_| {
            let z: Vec<f64> = (0..LATENT).map(|_| next() + next() + next()).collect();
            (0..dim)
                .map(|j| {
                    let x: f64 = z.iter().zip(&proj).map(|(zi, row)| zi * row[j]).sum();
                    (x + 0.3 * next()) as f32
                })
                .collect()
        })
        .collect()
}

pub(super) fn cosine_distance(a: &[f32], b: &[f32]) -> f64 {
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        dot += f64::from(*x) * f64::from(*y);
        na += f64::from(*x) * f64::from(*x);
        nb += f64::from(*y) * f64::from(*y);
    }
    1.0 - dot / (na.sqrt() * nb.sqrt())
}

/// The `k` nearest rows by brute force: (row index, distance).
pub(super) fn brute_force(data: &[Vec<f32>], q: &[f32], k: usize) -> Vec<usize> {
    let mut d: Vec<(usize, f64)> = data.iter().enumerate().map(|(i, v)| (i, cosine_distance(v, q))).collect();
    d.sort_by(|x, y| x.1.total_cmp(&y.1));
    d.into_iter().take(k).map(|x| x.0).collect()
}

pub(super) fn vecs_model(dim: u32) -> Result<Model> {
    Ok(Model::builder("bench_vecs").field("name", T::Text).embedded("content", "bench", dim).key("name").build()?)
}
