//! Full-text search: the words of a query, the statement that finds an entity's text
//! by them, and the ranking p8fs computes itself where the engine has no full-text search.
//!
//! Engines with full-text search ([`crate::Dialect::full_text_match`]): PostgreSQL
//! (`to_tsvector('english', ...) @@ to_tsquery(...)` over a GIN expression index, ranked by
//! `ts_rank_cd`), MariaDB (`MATCH ... AGAINST` in natural-language mode over a `FULLTEXT`
//! index) and SQLite (an FTS5 index table kept in step by triggers, ranked by `bm25`).
//! Elsewhere ([`FullText::Fallback`]: TiDB, whose full-text search is TiDB Cloud's only) the
//! candidates are the tenant's rows containing one of the words (case-insensitive `LIKE`,
//! at most [`MAX_TEXT_CANDIDATES`]) and p8fs ranks them with BM25.
//!
//! The query never reaches the engine's query syntax as written: only its words (letters
//! and digits, lower-cased, stop words dropped) do, each a bound value, so `"`, `*`, `:`,
//! `&`, `|`, `!`, `%`, `_` or `\` in a query can neither change the query nor make the
//! engine fail.

use std::collections::{BTreeSet, HashMap};

use sea_query::{Alias, Cond, Expr, ExprTrait, Order, Query};
use serde_json::{Map, Value as Json};

use super::Layout;
use super::codec::select_columns;
use crate::model::Model;
use crate::{Dialect, Error, Result, Statement};

/// The longest query text, in characters.
pub const MAX_TEXT_CHARS: usize = 1000;
/// The most words of a query that are searched for.
pub const MAX_WORDS: usize = 32;
/// Rows read as candidates where p8fs ranks the text itself.
pub const MAX_TEXT_CANDIDATES: u64 = 2000;

/// Whether the engine searches text itself or p8fs does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FullText {
    /// The engine's full-text search and index.
    Native,
    /// Word `LIKE` candidates ranked by p8fs (BM25).
    Fallback,
}

/// Words too common to say anything about a document.
const STOP_WORDS: [&str; 58] = [
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "do", "does", "for", "from", "had", "has", "have",
    "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "no", "not", "of", "on", "or", "our", "so", "than",
    "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "we", "were", "what", "when",
    "where", "which", "who", "why", "will", "with", "you", "your", "should",
];

/// Every word of `text`: runs of letters and digits, lower-cased, in order, repeated.
fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase)
}

/// The words of a query that are searched for: letters and digits only, lower-cased,
/// without stop words and repeats, at most [`MAX_WORDS`].
pub fn words(text: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    tokens(text)
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .filter(|w| seen.insert(w.clone()))
        .take(MAX_WORDS)
        .collect()
}

/// Checks a query: not too long, and with at least one word to search for.
///
/// # Errors
/// An invalid-input error saying which.
pub fn check(text: &str) -> Result<Vec<String>> {
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(Error::invalid_input(format!("a text search takes at most {MAX_TEXT_CHARS} characters")));
    }
    let w = words(text);
    if w.is_empty() {
        return Err(Error::invalid_input(format!("text search {text:?} has no word to search for")));
    }
    Ok(w)
}

/// The columns a model's text search covers: its key field (a name or title says much
/// about a document) and its embedded fields.
pub fn columns(model: &Model) -> Vec<String> {
    let mut cols: Vec<String> = model.key_field().map(str::to_owned).into_iter().collect();
    for f in model.embedding_fields() {
        if !cols.contains(&f.name) {
            cols.push(f.name.clone());
        }
    }
    cols
}

/// The name of a model's full-text index.
pub fn index_name(model: &Model) -> String {
    format!("{}_fts", model.name())
}

/// What serves full-text search of a model's text columns where the engine has it
/// (idempotent; empty elsewhere).
pub fn index(d: &dyn Dialect, layout: &Layout, model: &Model) -> Vec<Statement> {
    let cols = columns(model);
    if cols.is_empty() {
        return Vec::new();
    }
    let refs: Vec<&str> = cols.iter().map(String::as_str).collect();
    d.full_text_index(layout.schema(d), model.name(), &index_name(model), &refs)
}

/// The search: the tenant's rows matching the words, with the engine's score as the last
/// column, best first, at most `limit` (native); or the candidates containing a word, at
/// most [`MAX_TEXT_CANDIDATES`], with no score (fallback: rank them with [`bm25`]).
///
/// # Errors
/// A model without text columns.
pub fn search(
    d: &dyn Dialect,
    model: &Model,
    layout: &Layout,
    tenant: &str,
    words: &[String],
    limit: usize,
) -> Result<(Statement, FullText)> {
    let cols = columns(model);
    if cols.is_empty() {
        return Err(Error::invalid_input(format!("{model} has no text to search (no key or embedded field)")));
    }
    let refs: Vec<&str> = cols.iter().map(String::as_str).collect();
    let mut q = Query::select();
    q.from(layout.table(d, model.name()));
    for (name, _) in select_columns(model) {
        q.column(Alias::new(name));
    }
    if model.tenant_isolated() {
        q.and_where(Expr::col(Alias::new("tenant_id")).eq(tenant));
    }
    let kind = match d.full_text_match(layout.schema(d), model.name(), &refs, words) {
        Some((filter, score)) => {
            q.and_where(filter).expr_as(score, Alias::new("p8fs_text_score"));
            q.order_by(Alias::new("p8fs_text_score"), Order::Desc).order_by(Alias::new("id"), Order::Asc);
            q.limit(limit as u64);
            FullText::Native
        }
        None => {
            let mut any = Cond::any();
            for w in words {
                for c in &refs {
                    any = any.add(d.ilike(Expr::col(Alias::new(*c)), &format!("%{w}%")));
                }
            }
            q.cond_where(any).order_by(Alias::new("id"), Order::Asc).limit(MAX_TEXT_CANDIDATES);
            FullText::Fallback
        }
    };
    Ok((d.build_query(&q), kind))
}

/// BM25 (k1 = 1.2, b = 0.75) of each candidate's text columns for the query's words, the
/// document frequencies counted over the candidates; whole words only (a `LIKE` candidate
/// that holds a word only inside another word scores nothing for it).
pub fn bm25(words: &[String], docs: &[Map<String, Json>], columns: &[String]) -> Vec<f64> {
    let texts: Vec<Vec<String>> = docs
        .iter()
        .map(|d| {
            columns
                .iter()
                .filter_map(|c| d.get(c).and_then(Json::as_str))
                .flat_map(|t| tokens(t).collect::<Vec<_>>())
                .collect()
        })
        .collect();
    let n = texts.len() as f64;
    let avg = texts.iter().map(Vec::len).sum::<usize>() as f64 / n.max(1.0);
    let mut df: HashMap<&str, f64> = HashMap::new();
    for t in &texts {
        let present: BTreeSet<&str> = t.iter().map(String::as_str).collect();
        for w in words {
            if present.contains(w.as_str()) {
                *df.entry(w.as_str()).or_default() += 1.0;
            }
        }
    }
    texts
        .iter()
        .map(|t| {
            let len = t.len() as f64;
            words
                .iter()
                .map(|w| {
                    let tf = t.iter().filter(|x| *x == w).count() as f64;
                    if tf == 0.0 {
                        return 0.0;
                    }
                    let d = df.get(w.as_str()).copied().unwrap_or(0.0);
                    let idf = ((n - d + 0.5) / (d + 0.5) + 1.0).ln();
                    idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len / avg.max(1.0)))
                })
                .sum()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_words_reach_the_engine() {
        assert_eq!(
            words("The \"yeast\" & NEAR(flour)* -water: 100% OR 1=1; --"),
            ["yeast", "near", "flour", "water", "100", "1"]
        );
        assert!(words("' \" * : & | ! \\ % _ ( )").is_empty());
        assert!(words("the and of").is_empty());
        assert_eq!(words(&"word ".repeat(100)), ["word"]);
        let many: String = (0..100).map(|i| format!("w{i} ")).collect();
        assert_eq!(words(&many).len(), MAX_WORDS);
    }

    #[test]
    fn bad_queries_are_refused() {
        assert!(check("").is_err());
        assert!(check("   ").is_err());
        assert!(check("%%% ***").is_err());
        assert!(check(&"a".repeat(MAX_TEXT_CHARS + 1)).is_err());
        assert_eq!(check("Sourdough starter").unwrap(), ["sourdough", "starter"]);
    }

    #[test]
    fn bm25_prefers_the_rarer_word_and_whole_words() {
        let doc = |t: &str| {
            let mut m = Map::new();
            m.insert("content".into(), Json::String(t.into()));
            m
        };
        let docs = [doc("yeast and flour"), doc("flour and water"), doc("flour, water, salt"), doc("yeasty flavour")];
        let s = bm25(&["yeast".into(), "flour".into()], &docs, &["content".into()]);
        assert!(s[0] > s[1] && s[0] > s[2], "{s:?}");
        assert_eq!(s[3], 0.0, "yeasty is not yeast: {s:?}");
    }
}
