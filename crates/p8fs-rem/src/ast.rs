//! The parsed query: what the executor receives.

use serde::Serialize;
use serde_json::{Map, Value};

/// A parsed REM query.
///
/// Serialised (for logs and the HTTP API's plan output) with a `kind` tag:
/// `{"kind": "lookup", "keys": [...]}`, `{"kind": "select", "table": ...}`, ...
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RemQuery {
    /// `LOOKUP k1, "k2", table:k3` and `GET k` (`GET` is a `LOOKUP` of exactly one key).
    Lookup {
        /// The keys, in the order given (duplicates kept: the executor may dedupe).
        keys: Vec<LookupKey>,
    },
    /// `SEARCH "text" [IN table] [LIMIT n]`; also any query that starts with no keyword
    /// (`implicit: true`).
    Search {
        /// The text to embed and search for.
        text: String,
        /// The one table to search; `None`: the executor's default.
        table: Option<String>,
        /// Most results (1..=[`crate::MAX_LIMIT`]); `None`: the executor's default.
        limit: Option<u64>,
        /// The query had no keyword: the whole text is the search text.
        implicit: bool,
    },
    /// `FUZZY text [IN table] [LIMIT n]`.
    Fuzzy {
        /// The approximate name.
        text: String,
        /// The one table to search; `None`: all.
        table: Option<String>,
        /// Most results (1..=[`crate::MAX_LIMIT`]); `None`: the executor's default.
        limit: Option<u64>,
    },
    /// `SELECT ... FROM table [WHERE ...] [ORDER BY ...] [LIMIT n] [OFFSET n]`.
    Select(SelectQuery),
    /// `TRAVERSE [types] WITH (LOOKUP keys | SEARCH "text") [DEPTH n] [IN table] [LIMIT n]
    /// [PLAN]`.
    Traverse(TraverseQuery),
}

impl RemQuery {
    /// The form's name as the `kind` tag spells it: `lookup`, `search`, `fuzzy`,
    /// `select` or `traverse`.
    pub fn kind(&self) -> &'static str {
        match self {
            RemQuery::Lookup { .. } => "lookup",
            RemQuery::Search { .. } => "search",
            RemQuery::Fuzzy { .. } => "fuzzy",
            RemQuery::Select(_) => "select",
            RemQuery::Traverse(_) => "traverse",
        }
    }
}

/// One key of a `LOOKUP`: a name, optionally narrowed to one table (`table:key`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LookupKey {
    /// The table written before the first `:` of an unquoted key, when that part is a
    /// plain identifier; `None`: every table.
    pub table: Option<String>,
    /// The name, quotes stripped; never empty.
    pub key: String,
}

/// A `SELECT`, already in p8fs's filter grammar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SelectQuery {
    /// The one table of `FROM`, as written (identifier quotes removed).
    pub table: String,
    /// `None` for `*`; else the column names in order (the executor checks them against
    /// the model).
    pub columns: Option<Vec<String>>,
    /// The `WHERE` clause in p8fs's filter grammar: `{"field": v}` (equality; `null` for
    /// `IS NULL`), `{"field__gt": v}`, `__gte`, `__lt`, `__lte`, `__in` (a JSON array),
    /// `__like`, `__ilike`. All must hold.
    ///
    /// The parser does not know which columns exist or may be filtered on: a
    /// `tenant_id` filter is passed on like any other and refused by the executor.
    pub filters: Map<String, Value>,
    /// `"field"` ascending, `"-field"` descending, in priority order.
    pub order_by: Vec<String>,
    /// `LIMIT n`, 0..=[`crate::MAX_LIMIT`].
    pub limit: Option<u64>,
    /// `OFFSET n`, at most `i64::MAX` (so every engine can bind it).
    pub offset: Option<u64>,
}

/// A `TRAVERSE`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraverseQuery {
    /// Edge (relation) types to follow; empty: all.
    pub edge_types: Vec<String>,
    /// Where the traversal starts.
    pub seed: Seed,
    /// `DEPTH n` (0..=[`crate::MAX_DEPTH`]); `None`: the executor's default.
    pub depth: Option<u32>,
    /// `PLAN` given. `DEPTH 0` also means plan-only; the executor decides that, and
    /// `depth` is kept as given.
    pub plan: bool,
    /// `IN table`: the table of the seed and of the nodes.
    pub table: Option<String>,
    /// `LIMIT n` of the traversal's nodes (1..=[`crate::MAX_LIMIT`]).
    pub limit: Option<u64>,
}

/// Where a `TRAVERSE` starts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Seed {
    /// `WITH LOOKUP keys`: the entities of these names.
    Lookup {
        /// The keys, as in [`RemQuery::Lookup`].
        keys: Vec<LookupKey>,
    },
    /// `WITH SEARCH "text" [LIMIT n]`: the entities a semantic search finds.
    Search {
        /// The text to search for.
        text: String,
        /// The `LIMIT` right after the text: how many search results seed the traversal.
        limit: Option<u64>,
    },
}
