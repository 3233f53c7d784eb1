//! Properties over many inputs: `parse` never panics, its errors always say something,
//! what it accepts is within the documented bounds, and quoting round-trips any text.

use p8fs_rem::{LookupKey, MAX_DEPTH, MAX_IDENT_LEN, MAX_LIMIT, MAX_LOOKUP_KEYS, RemQuery, Seed, parse};
use proptest::prelude::*;

/// Words and symbols of every form, glued into queries by the strategies below.
const TOKENS: &[&str] = &[
    "LOOKUP",
    "lookup",
    "GET",
    "SEARCH",
    "FUZZY",
    "SELECT",
    "TRAVERSE",
    "WITH",
    "DEPTH",
    "IN",
    "in",
    "LIMIT",
    "PLAN",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IS",
    "NULL",
    "LIKE",
    "ILIKE",
    "BETWEEN",
    "ORDER BY",
    "ASC",
    "DESC",
    "OFFSET",
    "UNION",
    "JOIN",
    "GROUP BY",
    "*",
    ",",
    ":",
    ";",
    "'",
    "\"",
    "`",
    "''",
    "\"\"",
    "(",
    ")",
    "=",
    "<",
    ">=",
    "!=",
    "<>",
    "+",
    "-",
    "::",
    "->",
    "--",
    "/*",
    "*/",
    "$1",
    "?",
    "0",
    "5",
    "10",
    "10000",
    "10001",
    "-1",
    "1.5",
    "1e999",
    "99999999999999999999",
    "resources",
    "moments",
    "tenant_id",
    "a__gt",
    "r.name",
    "my-project-alpha",
    "sign in page",
    "a:b",
    "resources:x",
    "knows",
    "works-with",
    "é",
    "日本",
    "\u{0}",
    "\u{feff}",
    " ",
    "  ",
    "\t",
    "\n",
];

fn token_query() -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(TOKENS), prop::bool::ANY), 0..24).prop_map(|parts| {
        let mut q = String::new();
        for (t, space) in parts {
            q.push_str(t);
            if space {
                q.push(' ');
            }
        }
        q
    })
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= MAX_IDENT_LEN
}

fn keys_ok(keys: &[LookupKey]) {
    assert!(!keys.is_empty() && keys.len() <= MAX_LOOKUP_KEYS);
    for k in keys {
        assert!(!k.key.trim().is_empty(), "{k:?}");
        assert!(k.table.as_deref().is_none_or(is_ident), "{k:?}");
    }
}

fn limit_ok(l: Option<u64>) {
    assert!(l.is_none_or(|n| (1..=MAX_LIMIT).contains(&n)), "{l:?}");
}

/// Parses without panicking and checks what the parser promises of its result.
fn check(q: &str) {
    match parse(q) {
        Err(e) => assert!(!e.message.is_empty()),
        Ok(RemQuery::Lookup { keys }) => keys_ok(&keys),
        Ok(RemQuery::Search { text, table, limit, .. } | RemQuery::Fuzzy { text, table, limit }) => {
            assert!(!text.trim().is_empty());
            assert!(table.as_deref().is_none_or(is_ident));
            limit_ok(limit);
        }
        Ok(RemQuery::Select(s)) => {
            assert!(is_ident(&s.table));
            assert!(s.columns.iter().flatten().all(|c| is_ident(c)));
            assert!(s.order_by.iter().all(|o| is_ident(o.strip_prefix('-').unwrap_or(o))));
            for key in s.filters.keys() {
                let (col, op) = key.split_once("__").unwrap_or((key, ""));
                assert!(is_ident(col) && !col.contains("__"), "{key}");
                assert!(["", "gt", "gte", "lt", "lte", "in", "like", "ilike"].contains(&op), "{key}");
            }
            assert!(s.limit.is_none_or(|n| n <= MAX_LIMIT));
            assert!(s.offset.is_none_or(|n| i64::try_from(n).is_ok()));
        }
        Ok(RemQuery::Traverse(t)) => {
            match &t.seed {
                Seed::Lookup { keys } => keys_ok(keys),
                Seed::Search { text, limit } => {
                    assert!(!text.trim().is_empty());
                    limit_ok(*limit);
                }
            }
            assert!(t.depth.is_none_or(|d| d <= MAX_DEPTH));
            assert!(t.table.as_deref().is_none_or(is_ident));
            limit_ok(t.limit);
            assert!(t.edge_types.iter().all(|e| !e.is_empty()
                && e.len() <= MAX_IDENT_LEN
                && e.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')));
        }
    }
}

/// `s` quoted with `q`, the quote doubled inside.
fn quote(s: &str, q: char) -> String {
    format!("{q}{}{q}", s.replace(q, &format!("{q}{q}")))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(q in any::<String>()) {
        check(&q);
    }

    #[test]
    fn queries_of_rem_tokens_never_panic(q in token_query()) {
        check(&q);
    }

    #[test]
    fn each_form_followed_by_tokens_never_panics(
        form in prop::sample::select(&["LOOKUP ", "GET ", "SEARCH ", "FUZZY ", "SELECT * FROM r WHERE ", "TRAVERSE ", "TRAVERSE WITH LOOKUP ", "TRAVERSE a WITH SEARCH "][..]),
        rest in token_query(),
    ) {
        check(&format!("{form}{rest}"));
    }

    /// Any non-blank key, quoted with any quote character, comes back exactly.
    #[test]
    fn a_quoted_key_round_trips(
        keys in prop::collection::vec("\\PC{1,20}".prop_filter("not blank", |k: &String| !k.trim().is_empty()), 1..5),
        q in prop::sample::select(&['\'', '"', '`'][..]),
    ) {
        let list = keys.iter().map(|k| quote(k, q)).collect::<Vec<_>>().join(", ");
        let want: Vec<LookupKey> = keys.iter().map(|k| LookupKey { table: None, key: k.clone() }).collect();
        prop_assert_eq!(parse(&format!("LOOKUP {list}")).unwrap(), RemQuery::Lookup { keys: want.clone() });
        prop_assert_eq!(parse(&format!("TRAVERSE WITH LOOKUP {list} DEPTH 1")).unwrap(), RemQuery::Traverse(p8fs_rem::TraverseQuery {
            edge_types: vec![], seed: Seed::Lookup { keys: want }, depth: Some(1), plan: false, table: None, limit: None,
        }));
    }

    /// Any search text, quoted, comes back exactly, whatever keywords it holds.
    #[test]
    fn a_quoted_search_text_round_trips(text in "\\PC{1,40}".prop_filter("not blank", |t: &String| !t.trim().is_empty())) {
        let got = parse(&format!("SEARCH {} IN resources LIMIT 3", quote(&text, '"'))).unwrap();
        prop_assert_eq!(got, RemQuery::Search { text, table: Some("resources".into()), limit: Some(3), implicit: false });
    }

    /// Any string literal reaches the filter as data, never as SQL.
    #[test]
    fn a_sql_string_literal_round_trips(s in "\\PC{0,40}") {
        let q = format!("SELECT * FROM resources WHERE name = {}", quote(&s, '\''));
        match parse(&q) {
            Ok(RemQuery::Select(sel)) => prop_assert_eq!(sel.filters.get("name"), Some(&serde_json::Value::String(s))),
            other => prop_assert!(false, "{q:?} gave {other:?}"),
        }
    }
}
