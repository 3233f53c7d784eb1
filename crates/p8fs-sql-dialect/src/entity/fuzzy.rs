//! Approximate name matching (`FUZZY`): candidates by case-insensitive substring tests of
//! the query's trigrams (served by a trigram index on PostgreSQL with `pg_trgm`, ordered
//! by its `similarity`), then scored the same way on every engine by
//! [`trigram_similarity`] (pg_trgm's measure: shared trigrams of the padded words over
//! all trigrams).

use std::collections::BTreeSet;

use sea_query::{Alias, Cond, Expr, ExprTrait, Query};

use super::Layout;
use super::codec::select_columns;
use crate::model::Model;
use crate::{Dialect, Error, Result, Statement};

/// The most candidate rows one fuzzy match reads.
pub const MAX_FUZZY_CANDIDATES: u64 = 2000;

/// The most substring tests one fuzzy match sends.
pub const MAX_NEEDLES: usize = 24;

/// The longest text a fuzzy match takes, characters.
pub const MAX_FUZZY_CHARS: usize = 256;

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase)
}

/// The lowercase substrings a candidate must contain one of: each word's trigrams (a
/// word shorter than three characters itself), at most [`MAX_NEEDLES`], in order. Only
/// letters and digits: no `LIKE` wildcard or escape character can be among them.
pub fn needles(text: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for w in words(text) {
        let chars: Vec<char> = w.chars().collect();
        let grams: Vec<String> =
            if chars.len() < 3 { vec![w.clone()] } else { chars.windows(3).map(|g| g.iter().collect()).collect() };
        for g in grams {
            if out.len() == MAX_NEEDLES {
                return out;
            }
            if seen.insert(g.clone()) {
                out.push(g);
            }
        }
    }
    out
}

fn trigrams(text: &str) -> BTreeSet<[char; 3]> {
    let mut out = BTreeSet::new();
    for w in words(text) {
        let padded: Vec<char> = "  ".chars().chain(w.chars()).chain(" ".chars()).collect();
        for g in padded.windows(3) {
            out.insert([g[0], g[1], g[2]]);
        }
    }
    out
}

/// pg_trgm's similarity of two texts: the trigrams of their lowercased words (padded with
/// two spaces before and one after) shared, over all of them; 0 when neither has any.
pub fn trigram_similarity(a: &str, b: &str) -> f64 {
    let (x, y) = (trigrams(a), trigrams(b));
    let union = x.union(&y).count();
    if union == 0 {
        return 0.0;
    }
    x.intersection(&y).count() as f64 / union as f64
}

/// Checks a fuzzy text: non-empty, at most [`MAX_FUZZY_CHARS`] characters, with a letter
/// or digit.
///
/// # Errors
/// [`crate::ErrorKind::InvalidInput`] saying which.
pub fn check_text(text: &str) -> Result<()> {
    if text.chars().count() > MAX_FUZZY_CHARS {
        return Err(Error::invalid_input(format!("a fuzzy match takes at most {MAX_FUZZY_CHARS} characters")));
    }
    if needles(text).is_empty() {
        return Err(Error::invalid_input(format!("fuzzy text {text:?} has no letter or digit to match")));
    }
    Ok(())
}

/// The tenant's rows whose key contains one of [`needles`]`(text)` (case-insensitive), at
/// most [`MAX_FUZZY_CANDIDATES`], closest first by the engine's similarity when
/// `engine_similarity` (PostgreSQL with `pg_trgm`), else by key.
///
/// # Errors
/// A model without a key field; a text [`check_text`] refuses.
pub fn candidates(
    d: &dyn Dialect,
    model: &Model,
    layout: &Layout,
    tenant: &str,
    text: &str,
    engine_similarity: bool,
) -> Result<Statement> {
    check_text(text)?;
    let k =
        model.key_field().ok_or_else(|| Error::invalid_input(format!("{model} has no name (key field) to match")))?;
    let mut any = Cond::any();
    for n in needles(text) {
        any = any.add(d.ilike(Expr::col(Alias::new(k)), &format!("%{n}%")));
    }
    let mut cond = Cond::all();
    if model.tenant_isolated() {
        cond = cond.add(Expr::col(Alias::new("tenant_id")).eq(tenant));
    }
    let mut q = Query::select();
    q.from(layout.table(d, model.name()));
    for (name, _) in select_columns(model) {
        q.column(Alias::new(name));
    }
    q.cond_where(cond.add(any));
    if engine_similarity && let Some(sim) = d.trigram_similarity(Expr::col(Alias::new(k)), text) {
        q.order_by_expr(sim, sea_query::Order::Desc);
    }
    q.order_by(Alias::new(k), sea_query::Order::Asc).limit(MAX_FUZZY_CANDIDATES);
    Ok(d.build_query(&q))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needles_are_word_trigrams_without_wildcards() {
        assert_eq!(needles("Alpha"), ["alp", "lph", "pha"]);
        assert_eq!(needles("my-pa%_\\x"), ["my", "pa", "x"]);
        assert!(needles("%_\\ '").is_empty());
        assert_eq!(
            needles("the quick brown fox jumps over the lazy dog, then sleeps quietly in the warm afternoon sun").len(),
            MAX_NEEDLES
        );
    }

    #[test]
    fn similarity_is_pg_trgm_s() {
        // pg_trgm: similarity('word', 'two words') = 0.363636 (4 of 11).
        assert!((trigram_similarity("word", "two words") - 4.0 / 11.0).abs() < 1e-9);
        assert_eq!(trigram_similarity("alpha", "ALPHA"), 1.0);
        assert_eq!(trigram_similarity("", ""), 0.0);
        assert!(
            trigram_similarity("my-project-alpha", "project alpha") > trigram_similarity("my-project-alpha", "beta")
        );
    }

    #[test]
    fn bad_texts_are_refused() {
        assert!(check_text("").is_err());
        assert!(check_text("%%%").is_err());
        assert!(check_text(&"a".repeat(MAX_FUZZY_CHARS + 1)).is_err());
        assert!(check_text("alpha").is_ok());
    }
}
