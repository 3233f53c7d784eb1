//! The REM grammar, form by form: each table lists queries and what they parse into (as
//! the JSON the HTTP API shows) or the words their error must contain.

use p8fs_rem::{MAX_LOOKUP_KEYS, MAX_QUERY_BYTES, ParseError, RemQuery, parse};
use serde_json::{Value, json};

/// Every query parses into its JSON.
fn parses(cases: &[(&str, Value)]) {
    for (q, want) in cases {
        match parse(q) {
            Ok(got) => assert_eq!(serde_json::to_value(&got).unwrap(), *want, "query {q:?}"),
            Err(e) => panic!("query {q:?} refused: {e}"),
        }
    }
}

/// Every query is refused with a message containing its words (all failures listed).
fn refuses(cases: &[(&str, &str)]) {
    let mut failures = Vec::new();
    for (q, words) in cases {
        match parse(q) {
            Ok(got) => failures.push(format!("query {q:?} parsed into {got:?}; expected an error with {words:?}")),
            Err(ParseError { message }) if !message.contains(words) => {
                failures.push(format!("query {q:?}: message {message:?} lacks {words:?}"))
            }
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn lookup(keys: &[(Option<&str>, &str)]) -> Value {
    json!({"kind": "lookup", "keys": keys.iter().map(|(t, k)| json!({"table": t, "key": k})).collect::<Vec<_>>()})
}

fn search(text: &str, table: Option<&str>, limit: Option<u64>, implicit: bool) -> Value {
    json!({"kind": "search", "text": text, "table": table, "limit": limit, "implicit": implicit})
}

#[test]
fn lookup_keys_lists_quotes_and_tables() {
    parses(&[
        ("LOOKUP my-project-alpha", lookup(&[(None, "my-project-alpha")])),
        ("lookup a", lookup(&[(None, "a")])),
        ("LoOkUp a", lookup(&[(None, "a")])),
        ("  LOOKUP   a  ", lookup(&[(None, "a")])),
        ("LOOKUP\ta\n", lookup(&[(None, "a")])),
        ("LOOKUP a, b,c", lookup(&[(None, "a"), (None, "b"), (None, "c")])),
        (r#"LOOKUP k1, "k2""#, lookup(&[(None, "k1"), (None, "k2")])),
        // Each quote character; the others and commas, colons and spaces are literal inside.
        (r#"LOOKUP "a, b: c""#, lookup(&[(None, "a, b: c")])),
        ("LOOKUP 'it\"s'", lookup(&[(None, "it\"s")])),
        ("LOOKUP `a'b`", lookup(&[(None, "a'b")])),
        // A doubled quote is one literal quote.
        ("LOOKUP 'o''brien'", lookup(&[(None, "o'brien")])),
        (r#"LOOKUP "say ""hi""""#, lookup(&[(None, r#"say "hi""#)])),
        ("LOOKUP ```x```", lookup(&[(None, "`x`")])),
        // table:key, and a quoted "a:b" is not split.
        ("LOOKUP resources:my-project-alpha", lookup(&[(Some("resources"), "my-project-alpha")])),
        (r#"LOOKUP "resources:my-project-alpha""#, lookup(&[(None, "resources:my-project-alpha")])),
        (r#"LOOKUP resources:"a, b""#, lookup(&[(Some("resources"), "a, b")])),
        ("LOOKUP moments: x y", lookup(&[(Some("moments"), "x y")])),
        ("LOOKUP a:b:c", lookup(&[(Some("a"), "b:c")])),
        ("LOOKUP _t9:k", lookup(&[(Some("_t9"), "k")])),
        // Not an identifier before the colon: the whole is the key.
        ("LOOKUP 9t:k", lookup(&[(None, "9t:k")])),
        ("LOOKUP my-table:k", lookup(&[(None, "my-table:k")])),
        ("LOOKUP :k", lookup(&[(None, ":k")])),
        ("LOOKUP a b:c", lookup(&[(None, "a b:c")])),
        // Keys containing the words in, limit, depth: LOOKUP has no clauses.
        ("LOOKUP sign in page", lookup(&[(None, "sign in page")])),
        ("LOOKUP in", lookup(&[(None, "in")])),
        ("LOOKUP a IN resources", lookup(&[(None, "a IN resources")])),
        ("LOOKUP a LIMIT 5, depth 2", lookup(&[(None, "a LIMIT 5"), (None, "depth 2")])),
        ("LOOKUP résumé, 日本", lookup(&[(None, "résumé"), (None, "日本")])),
        // GET is a LOOKUP of one key.
        ("GET my-project-alpha", lookup(&[(None, "my-project-alpha")])),
        ("get resources:x", lookup(&[(Some("resources"), "x")])),
        (r#"GET "a,b""#, lookup(&[(None, "a,b")])),
        // Duplicates are kept; the executor may dedupe.
        ("LOOKUP a, a", lookup(&[(None, "a"), (None, "a")])),
    ]);
}

#[test]
fn lookup_malformed() {
    refuses(&[
        ("LOOKUP", "LOOKUP needs at least one key"),
        ("LOOKUP   ", "LOOKUP needs at least one key"),
        ("GET", "GET needs at least one key"),
        ("LOOKUP a,,b", "empty key at character 10"),
        ("LOOKUP ,a", "empty key at character 8"),
        ("LOOKUP a,", "empty key"),
        ("LOOKUP a, ", "empty key"),
        (r#"LOOKUP """#, "empty key at character 8"),
        ("LOOKUP '  '", "empty key"),
        ("LOOKUP resources:", "empty key after \"resources:\""),
        ("LOOKUP resources:  , b", "empty key after"),
        (r#"LOOKUP resources:"""#, "empty key"),
        ("LOOKUP \"abc", "unbalanced quote \" starting at character 8"),
        ("LOOKUP 'abc", "unbalanced quote '"),
        ("LOOKUP `abc", "unbalanced quote `"),
        ("LOOKUP 'abc''", "unbalanced quote"),
        ("LOOKUP a, \"b", "unbalanced quote"),
        ("LOOKUP o'brien", "quote ' inside the unquoted key"),
        (r#"LOOKUP a "b""#, "quote \" inside the unquoted key"),
        (r#"LOOKUP "a" b"#, "unexpected \"b\" after the quoted key \"a\""),
        (r#"LOOKUP "a""b"#, "unbalanced quote"),
        (r#"LOOKUP "a"b"#, "after the quoted key"),
        ("GET a, b", "GET takes exactly one key, got 2"),
        ("GET a,", "empty key"),
    ]);
}

#[test]
fn lookup_key_count_is_bounded() {
    let at_limit = format!("LOOKUP {}", vec!["k"; MAX_LOOKUP_KEYS].join(","));
    match parse(&at_limit).unwrap() {
        RemQuery::Lookup { keys } => assert_eq!(keys.len(), MAX_LOOKUP_KEYS),
        other => panic!("{other:?}"),
    }
    let over = format!("LOOKUP {}", vec!["k"; MAX_LOOKUP_KEYS + 1].join(","));
    assert_eq!(parse(&over).unwrap_err().message, "too many keys: at most 1000 in one query");
}

#[test]
fn search_and_fuzzy() {
    parses(&[
        (r#"SEARCH "hello world""#, search("hello world", None, None, false)),
        ("search 'hello'", search("hello", None, None, false)),
        ("SEARCH `it's`", search("it's", None, None, false)),
        (r#"SEARCH "a ""b""""#, search(r#"a "b""#, None, None, false)),
        (r#"SEARCH "x" IN resources"#, search("x", Some("resources"), None, false)),
        (r#"SEARCH "x" in resources limit 5"#, search("x", Some("resources"), Some(5), false)),
        (r#"SEARCH "x" LIMIT 5 IN resources"#, search("x", Some("resources"), Some(5), false)),
        (r#"SEARCH "x" LIMIT 10000"#, search("x", None, Some(10000), false)),
        // Quoted text keeps its clause words.
        (r#"SEARCH "log in page" IN resources"#, search("log in page", Some("resources"), None, false)),
        (r#"SEARCH "what to limit""#, search("what to limit", None, None, false)),
        // Unquoted: trailing clauses, either order, are taken off the end.
        ("SEARCH hello world", search("hello world", None, None, false)),
        ("SEARCH cats in resources", search("cats", Some("resources"), None, false)),
        ("SEARCH cats IN resources LIMIT 3", search("cats", Some("resources"), Some(3), false)),
        ("SEARCH cats LIMIT 3 IN resources", search("cats", Some("resources"), Some(3), false)),
        ("SEARCH what's new", search("what's new", None, None, false)),
        ("SEARCH in", search("in", None, None, false)),
        ("SEARCH limit", search("limit", None, None, false)),
        // Only the last IN is a clause.
        ("SEARCH sign in page in resources", search("sign in page", Some("resources"), None, false)),
        ("FUZZY alpah", json!({"kind": "fuzzy", "text": "alpah", "table": null, "limit": null})),
        (
            "fuzzy my projct IN resources LIMIT 7",
            json!({"kind": "fuzzy", "text": "my projct", "table": "resources", "limit": 7}),
        ),
        (
            r#"FUZZY "alpha in" in moments"#,
            json!({"kind": "fuzzy", "text": "alpha in", "table": "moments", "limit": null}),
        ),
    ]);
}

#[test]
fn search_and_fuzzy_malformed() {
    refuses(&[
        ("SEARCH", "SEARCH needs a text"),
        ("SEARCH   ", "SEARCH needs a text"),
        (r#"SEARCH """#, "SEARCH needs a text"),
        ("SEARCH ' '", "SEARCH needs a text"),
        ("SEARCH IN resources", "SEARCH needs a text"),
        ("SEARCH LIMIT 5", "SEARCH needs a text"),
        ("FUZZY", "FUZZY needs a text"),
        ("SEARCH \"abc", "unbalanced quote \""),
        ("FUZZY 'abc", "unbalanced quote '"),
        (r#"SEARCH "x" foo"#, "unexpected \"foo\" after the quoted SEARCH text"),
        (r#"SEARCH "x" "y""#, "after the quoted SEARCH text"),
        (r#"SEARCH "x", "y""#, "unexpected \",\""),
        (r#"SEARCH "x" IN"#, "expected a table name after IN, got \"\""),
        (r#"SEARCH "x" IN my-table"#, "expected a table name after IN, got \"my-table\""),
        (r#"SEARCH "x" IN a.b"#, "expected a table name"),
        (r#"SEARCH "x" LIMIT"#, "expected a number after LIMIT, got \"\""),
        (r#"SEARCH "x" LIMIT ten"#, "expected a number after LIMIT, got \"ten\""),
        (r#"SEARCH "x" LIMIT 0"#, "LIMIT must be between 1 and 10000, got 0"),
        (r#"SEARCH "x" LIMIT 10001"#, "LIMIT must be between 1 and 10000"),
        (r#"SEARCH "x" LIMIT -1"#, "expected a number after LIMIT"),
        (r#"SEARCH "x" LIMIT 99999999999999999999999"#, "too large"),
        (r#"SEARCH "x" LIMIT 5 LIMIT 6"#, "LIMIT given twice"),
        (r#"SEARCH "x" IN a IN b"#, "IN given twice"),
        ("SEARCH cats LIMIT ten", "expected a number after LIMIT, got \"ten\""),
        ("SEARCH cats in 2024", "(quote the SEARCH text if it ends in these words)"),
        ("FUZZY cats LIMIT 0", "LIMIT must be between 1 and 10000"),
    ]);
}

#[test]
fn implicit_search() {
    parses(&[
        ("what did I work on yesterday?", search("what did I work on yesterday?", None, None, true)),
        ("  my-project-alpha  ", search("my-project-alpha", None, None, true)),
        // No IN/LIMIT parsing, quotes kept as typed, apostrophes are no error.
        ("cats in resources limit 5", search("cats in resources limit 5", None, None, true)),
        ("what's the plan", search("what's the plan", None, None, true)),
        (r#"say "hi" twice"#, search(r#"say "hi" twice"#, None, None, true)),
        (r#""a" and "b""#, search(r#""a" and "b""#, None, None, true)),
        // The whole query one quoted string: its quotes go.
        (r#""LOOKUP is a word""#, search("LOOKUP is a word", None, None, true)),
        ("'it''s'", search("it's", None, None, true)),
        // Unbalanced: as typed.
        (r#""half"#, search(r#""half"#, None, None, true)),
        // A keyword glued to something else is no keyword.
        (r#"GET"x""#, search(r#"GET"x""#, None, None, true)),
        ("LOOKUPS a", search("LOOKUPS a", None, None, true)),
        ("lookup:a", search("lookup:a", None, None, true)),
        ("SELECTION of items", search("SELECTION of items", None, None, true)),
        ("WITH x AS (SELECT 1) SELECT * FROM x", search("WITH x AS (SELECT 1) SELECT * FROM x", None, None, true)),
        ("DROP TABLE resources", search("DROP TABLE resources", None, None, true)),
        ("日本語の検索", search("日本語の検索", None, None, true)),
    ]);
    refuses(&[
        ("", "the query is empty"),
        ("   \n\t ", "the query is empty"),
        (r#""""#, "the search text is empty"),
        ("' '", "the search text is empty"),
    ]);
}

#[test]
fn the_query_length_is_bounded() {
    let at_limit = format!("x{}", " ".repeat(MAX_QUERY_BYTES - 1));
    assert!(parse(&at_limit).is_ok());
    let over = "x".repeat(MAX_QUERY_BYTES + 1);
    assert_eq!(parse(&over).unwrap_err().message, "the query is 16385 bytes long; at most 16384 are accepted");
}

fn traverse(
    edge_types: &[&str],
    seed: Value,
    depth: Option<u32>,
    plan: bool,
    table: Option<&str>,
    limit: Option<u64>,
) -> Value {
    json!({"kind": "traverse", "edge_types": edge_types, "seed": seed, "depth": depth, "plan": plan, "table": table, "limit": limit})
}

fn seed_keys(keys: &[(Option<&str>, &str)]) -> Value {
    json!({"kind": "lookup", "keys": keys.iter().map(|(t, k)| json!({"table": t, "key": k})).collect::<Vec<_>>()})
}

#[test]
fn traverse_forms() {
    let alice = || seed_keys(&[(None, "alice")]);
    parses(&[
        ("TRAVERSE WITH LOOKUP alice", traverse(&[], alice(), None, false, None, None)),
        ("traverse with lookup alice", traverse(&[], alice(), None, false, None, None)),
        ("TRAVERSE knows WITH LOOKUP alice", traverse(&["knows"], alice(), None, false, None, None)),
        (
            "TRAVERSE knows, works-with,part_of WITH LOOKUP alice",
            traverse(&["knows", "works-with", "part_of"], alice(), None, false, None, None),
        ),
        (r#"TRAVERSE "knows" WITH LOOKUP alice"#, traverse(&["knows"], alice(), None, false, None, None)),
        ("TRAVERSE WITH LOOKUP alice DEPTH 2", traverse(&[], alice(), Some(2), false, None, None)),
        ("TRAVERSE WITH LOOKUP alice DEPTH 0", traverse(&[], alice(), Some(0), false, None, None)),
        ("TRAVERSE WITH LOOKUP alice DEPTH 10", traverse(&[], alice(), Some(10), false, None, None)),
        ("TRAVERSE WITH LOOKUP alice PLAN", traverse(&[], alice(), None, true, None, None)),
        ("TRAVERSE PLAN WITH LOOKUP alice", traverse(&[], alice(), None, true, None, None)),
        ("TRAVERSE PLAN knows WITH LOOKUP alice DEPTH 0", traverse(&["knows"], alice(), Some(0), true, None, None)),
        (
            "TRAVERSE WITH LOOKUP alice in people limit 50 depth 3 plan",
            traverse(&[], alice(), Some(3), true, Some("people"), Some(50)),
        ),
        (
            "TRAVERSE WITH LOOKUP alice, people:bob, \"carol depth\" DEPTH 1",
            traverse(
                &[],
                seed_keys(&[(None, "alice"), (Some("people"), "bob"), (None, "carol depth")]),
                Some(1),
                false,
                None,
                None,
            ),
        ),
        // A key list ends at the first clause word outside quotes.
        (
            "TRAVERSE WITH LOOKUP sign in page",
            traverse(&[], seed_keys(&[(None, "sign")]), None, false, Some("page"), None),
        ),
        (
            r#"TRAVERSE WITH LOOKUP "sign in page""#,
            traverse(&[], seed_keys(&[(None, "sign in page")]), None, false, None, None),
        ),
        (
            "TRAVERSE WITH LOOKUP in-depth DEPTH 1",
            traverse(&[], seed_keys(&[(None, "in-depth")]), Some(1), false, None, None),
        ),
        ("TRAVERSE WITH LOOKUP my plans", traverse(&[], seed_keys(&[(None, "my plans")]), None, false, None, None)),
        (
            r#"TRAVERSE WITH SEARCH "machine learning" DEPTH 2"#,
            traverse(
                &[],
                json!({"kind": "search", "text": "machine learning", "limit": null}),
                Some(2),
                false,
                None,
                None,
            ),
        ),
        // The LIMIT right after the search text is the seed's; a later one the traversal's.
        (
            r#"TRAVERSE WITH SEARCH "x" LIMIT 3 DEPTH 1 LIMIT 40"#,
            traverse(&[], json!({"kind": "search", "text": "x", "limit": 3}), Some(1), false, None, Some(40)),
        ),
        (
            r#"TRAVERSE WITH SEARCH "x" DEPTH 1 LIMIT 40"#,
            traverse(&[], json!({"kind": "search", "text": "x", "limit": null}), Some(1), false, None, Some(40)),
        ),
        (
            "TRAVERSE WITH SEARCH machine learning DEPTH 1",
            traverse(
                &[],
                json!({"kind": "search", "text": "machine learning", "limit": null}),
                Some(1),
                false,
                None,
                None,
            ),
        ),
    ]);
}

#[test]
fn traverse_malformed() {
    refuses(&[
        ("TRAVERSE", "TRAVERSE needs WITH LOOKUP keys or WITH SEARCH"),
        ("TRAVERSE knows", "TRAVERSE needs WITH"),
        ("TRAVERSE LOOKUP alice", "expected a comma or WITH after the edge type \"LOOKUP\", got \"alice\""),
        ("TRAVERSE knows LOOKUP alice", "expected a comma or WITH"),
        ("TRAVERSE a b WITH LOOKUP x", "expected a comma or WITH after the edge type \"a\", got \"b\""),
        ("TRAVERSE a, WITH LOOKUP x", "empty edge type after the last comma"),
        ("TRAVERSE ,a WITH LOOKUP x", "empty edge type at character 10"),
        ("TRAVERSE a.b WITH LOOKUP x", "expected an edge type, got \"a.b\""),
        ("TRAVERSE 'a b' WITH LOOKUP x", "expected an edge type"),
        ("TRAVERSE WITH", "TRAVERSE needs WITH"),
        ("TRAVERSE WITH alice", "expected LOOKUP or SEARCH after WITH, got \"alice\""),
        ("TRAVERSE WITH LOOKUP", "WITH LOOKUP needs at least one key"),
        ("TRAVERSE WITH LOOKUP DEPTH 2", "WITH LOOKUP needs at least one key"),
        ("TRAVERSE WITH LOOKUP a, DEPTH 2", "empty key"),
        ("TRAVERSE WITH LOOKUP a,,b", "empty key"),
        ("TRAVERSE WITH LOOKUP \"a", "unbalanced quote"),
        ("TRAVERSE WITH SEARCH", "WITH SEARCH needs a text"),
        ("TRAVERSE WITH SEARCH DEPTH 1", "WITH SEARCH needs a text"),
        (r#"TRAVERSE WITH SEARCH """#, "WITH SEARCH needs a text"),
        (r#"TRAVERSE WITH SEARCH "x" LIMIT 0"#, "LIMIT must be between 1 and 10000"),
        ("TRAVERSE WITH LOOKUP a DEPTH", "expected a number after DEPTH, got \"\""),
        ("TRAVERSE WITH LOOKUP a DEPTH two", "expected a number after DEPTH, got \"two\""),
        ("TRAVERSE WITH LOOKUP a DEPTH -1", "expected a number after DEPTH"),
        ("TRAVERSE WITH LOOKUP a DEPTH 11", "DEPTH must be between 0 and 10, got 11"),
        ("TRAVERSE WITH LOOKUP a DEPTH 99999999999", "DEPTH must be between 0 and 10"),
        ("TRAVERSE WITH LOOKUP a DEPTH 1 DEPTH 2", "DEPTH given twice"),
        ("TRAVERSE WITH LOOKUP a IN", "expected a table name after IN"),
        ("TRAVERSE WITH LOOKUP a IN x.y", "expected a table name after IN"),
        ("TRAVERSE WITH LOOKUP a IN x IN y", "IN given twice"),
        ("TRAVERSE WITH LOOKUP a LIMIT 0", "LIMIT must be between 1 and 10000"),
        ("TRAVERSE WITH LOOKUP a LIMIT 1 LIMIT 2", "LIMIT given twice"),
        ("TRAVERSE PLAN WITH LOOKUP a PLAN", "PLAN given twice"),
        (r#"TRAVERSE WITH LOOKUP "a" b"#, "unexpected \"b\" after the quoted key"),
        (
            r#"TRAVERSE WITH SEARCH "x" foo"#,
            "unexpected \"foo\" in TRAVERSE: expected DEPTH n, IN table, LIMIT n or PLAN",
        ),
        (r#"TRAVERSE WITH SEARCH "x" DEPTH 1 ,"#, "unexpected \",\" in TRAVERSE"),
    ]);
}

fn select(
    table: &str,
    columns: Option<&[&str]>,
    filters: Value,
    order_by: &[&str],
    limit: Option<u64>,
    offset: Option<u64>,
) -> Value {
    json!({"kind": "select", "table": table, "columns": columns, "filters": filters, "order_by": order_by, "limit": limit, "offset": offset})
}

#[test]
fn select_subset() {
    parses(&[
        ("SELECT * FROM resources", select("resources", None, json!({}), &[], None, None)),
        ("select * from resources;", select("resources", None, json!({}), &[], None, None)),
        ("SELECT*FROM resources", select("resources", None, json!({}), &[], None, None)),
        ("SELECT name, id FROM resources", select("resources", Some(&["name", "id"]), json!({}), &[], None, None)),
        // Quoted identifiers are unquoted, then checked; case is kept.
        (
            r#"SELECT "Name", `id` FROM "Resources""#,
            select("Resources", Some(&["Name", "id"]), json!({}), &[], None, None),
        ),
        (
            "SELECT * FROM resources WHERE name = 'my-project-alpha'",
            select("resources", None, json!({"name": "my-project-alpha"}), &[], None, None),
        ),
        (
            "SELECT * FROM r WHERE a > 1 AND b >= 2.5 AND c < -3 AND d <= 1e3 AND e = true AND f = FALSE",
            select(
                "r",
                None,
                json!({"a__gt": 1, "b__gte": 2.5, "c__lt": -3, "d__lte": 1000.0, "e": true, "f": false}),
                &[],
                None,
                None,
            ),
        ),
        // A literal on the left is turned around.
        (
            "SELECT * FROM r WHERE 5 < a AND 6 <= b AND 7 > c AND 8 >= d AND 'x' = e",
            select("r", None, json!({"a__gt": 5, "b__gte": 6, "c__lt": 7, "d__lte": 8, "e": "x"}), &[], None, None),
        ),
        (
            "SELECT * FROM r WHERE k IN (1, 'two', -3.5, true) AND s IN ('x')",
            select("r", None, json!({"k__in": [1, "two", -3.5, true], "s__in": ["x"]}), &[], None, None),
        ),
        (
            "SELECT * FROM r WHERE name LIKE 'alpha%' AND title ILIKE '%Beta_'",
            select("r", None, json!({"name__like": "alpha%", "title__ilike": "%Beta_"}), &[], None, None),
        ),
        ("SELECT * FROM r WHERE deleted_at IS NULL", select("r", None, json!({"deleted_at": null}), &[], None, None)),
        (
            "SELECT * FROM r WHERE (a = 1 AND (b = 2)) AND ((c = 3))",
            select("r", None, json!({"a": 1, "b": 2, "c": 3}), &[], None, None),
        ),
        // Strings keep what an injection would need, as data.
        (
            "SELECT * FROM r WHERE name = 'x'' OR ''1''=''1' AND b = '; DROP TABLE r; --'",
            select("r", None, json!({"name": "x' OR '1'='1", "b": "; DROP TABLE r; --"}), &[], None, None),
        ),
        (
            "SELECT * FROM r ORDER BY created_at DESC, name ASC, id",
            select("r", None, json!({}), &["-created_at", "name", "id"], None, None),
        ),
        ("SELECT * FROM r LIMIT 5", select("r", None, json!({}), &[], Some(5), None)),
        ("SELECT * FROM r LIMIT 0", select("r", None, json!({}), &[], Some(0), None)),
        ("SELECT * FROM r LIMIT 10000 OFFSET 20", select("r", None, json!({}), &[], Some(10000), Some(20))),
        ("SELECT * FROM r OFFSET 3", select("r", None, json!({}), &[], None, Some(3))),
        (
            "SELECT id FROM moments WHERE kind = 'meeting' AND score > 0.5 ORDER BY score DESC LIMIT 10 OFFSET 10",
            select(
                "moments",
                Some(&["id"]),
                json!({"kind": "meeting", "score__gt": 0.5}),
                &["-score"],
                Some(10),
                Some(10),
            ),
        ),
        // The parser passes a tenant_id filter on like any other: the executor refuses it
        // (the tenant is the caller's, never the query's).
        ("SELECT * FROM r WHERE tenant_id = 'b'", select("r", None, json!({"tenant_id": "b"}), &[], None, None)),
    ]);
}

#[test]
fn select_injection_and_escape_attempts() {
    refuses(&[
        ("SELECT * FROM resources WHERE name = 'x' OR 1=1", "OR is not supported in WHERE: only AND of conditions"),
        ("SELECT * FROM resources WHERE name = 'x' OR tenant_id = 'b'", "OR is not supported"),
        ("SELECT * FROM resources WHERE 1=1", "a comparison needs a column on one side: \"1 = 1\""),
        ("SELECT * FROM resources WHERE 'a' = 'a'", "a comparison needs a column on one side"),
        ("SELECT * FROM resources; DROP TABLE resources", "only one statement is allowed, got 2"),
        ("SELECT * FROM resources WHERE name = 'x'; DELETE FROM resources", "only one statement is allowed"),
        ("SELECT * FROM resources UNION SELECT * FROM secrets", "UNION is not allowed"),
        ("SELECT * FROM resources UNION ALL SELECT * FROM secrets", "UNION is not allowed"),
        ("SELECT * FROM r EXCEPT SELECT * FROM s", "EXCEPT is not allowed"),
        ("SELECT * FROM r INTERSECT SELECT * FROM s", "INTERSECT is not allowed"),
        ("SELECT * FROM resources -- WHERE tenant_id = 'a'", "comments (-- or /* */) are not allowed"),
        ("SELECT * FROM resources /* hidden */ WHERE name = 'x'", "comments"),
        ("SELECT * FROM resources WHERE name = 'x' /* OR 1=1 */", "comments"),
        (
            "SELECT * FROM resources WHERE id IN (SELECT id FROM other)",
            "IN takes a list of values here, not a subquery",
        ),
        ("SELECT * FROM resources WHERE name = (SELECT name FROM other)", "subqueries are not allowed"),
        ("SELECT * FROM resources WHERE EXISTS (SELECT 1)", "subqueries are not allowed"),
        ("SELECT * FROM (SELECT * FROM other)", "a subquery in FROM is not allowed"),
        ("SELECT (SELECT 1) FROM r", "subqueries are not allowed in the column list"),
        ("SELECT * FROM r JOIN s ON r.id = s.id", "JOIN is not allowed"),
        ("SELECT * FROM r LEFT JOIN s ON true", "JOIN is not allowed"),
        ("SELECT * FROM r, s", "only one table is allowed in FROM"),
        ("SELECT * FROM public.resources", "a qualified table name is not allowed: \"public.resources\""),
        ("SELECT * FROM other_tenant.resources", "a qualified table name is not allowed"),
        ("SELECT * FROM resources AS r", "a table alias is not allowed"),
        ("SELECT * FROM resources r", "a table alias is not allowed"),
        ("SELECT r.name FROM resources", "qualified names are not allowed in the column list"),
        ("SELECT * FROM r WHERE r.tenant_id = 'b'", "qualified names are not allowed in WHERE"),
        ("SELECT r.* FROM r", "a qualified * (table.*) is not allowed"),
        ("SELECT * INTO copy FROM r", "SELECT INTO is not allowed"),
        ("SELECT * FROM r FOR UPDATE", "FOR UPDATE / FOR SHARE is not allowed"),
        ("SELECT * FROM r FOR SHARE", "is not allowed"),
        ("SELECT DISTINCT name FROM r", "DISTINCT is not allowed"),
        ("SELECT name FROM r GROUP BY name", "GROUP BY is not allowed"),
        ("SELECT name FROM r HAVING name = 'x'", "HAVING is not allowed"),
        ("SELECT count(*) FROM r", "function calls are not allowed in the column list: \"count\"(...)"),
        ("SELECT * FROM r WHERE lower(name) = 'x'", "function calls are not allowed in WHERE: \"lower\"(...)"),
        ("SELECT * FROM r WHERE name = lower('X')", "function calls are not allowed as a value"),
        ("SELECT * FROM r WHERE name = pg_sleep(10)", "function calls are not allowed"),
        ("SELECT * FROM generate_series(1, 10)", "table functions are not allowed"),
        ("SELECT row_number() OVER () FROM r", "function calls are not allowed"),
        ("SELECT name AS n FROM r", "column aliases are not allowed: AS \"n\""),
        ("SELECT 1 FROM r", "only * or column names are allowed in the column list, got \"1\""),
        ("SELECT * FROM r WHERE a = $1", "placeholders are not allowed"),
        ("SELECT * FROM r WHERE a = ?", "placeholders are not allowed"),
        ("SELECT * FROM r WHERE a != 1", "unknown operator != (or <>) in WHERE"),
        ("SELECT * FROM r WHERE a <> 1", "unknown operator != (or <>)"),
        ("SELECT * FROM r WHERE NOT a = 1", "NOT is not supported in WHERE"),
        ("SELECT * FROM r WHERE a IS NOT NULL", "IS NOT NULL is not supported in WHERE"),
        ("SELECT * FROM r WHERE a NOT IN (1)", "NOT IN is not supported"),
        ("SELECT * FROM r WHERE a NOT LIKE 'x'", "NOT LIKE is not supported"),
        ("SELECT * FROM r WHERE a NOT ILIKE 'x'", "NOT ILIKE is not supported"),
        ("SELECT * FROM r WHERE a LIKE 'x' ESCAPE '!'", "LIKE ... ESCAPE is not allowed"),
        ("SELECT * FROM r WHERE a LIKE 5", "the pattern of LIKE must be a single-quoted string"),
        ("SELECT * FROM r WHERE a BETWEEN 1 AND 2", "BETWEEN is not supported in WHERE"),
        ("SELECT * FROM r WHERE a = 1 + 1", "operator \"+\" is not allowed as a value"),
        ("SELECT * FROM r WHERE a + 1 = 2", "operator \"+\" is not allowed in WHERE"),
        ("SELECT * FROM r WHERE a = b", "column-to-column comparisons are not allowed: \"a\" = \"b\""),
        (r#"SELECT * FROM r WHERE name = "x""#, "column-to-column comparisons are not allowed"),
        ("SELECT * FROM r WHERE a = NULL", "NULL is only allowed in IS NULL"),
        ("SELECT * FROM r WHERE a > NULL", "NULL is only allowed in IS NULL"),
        ("SELECT * FROM r WHERE a IN (1, NULL)", "NULL is only allowed in IS NULL"),
        ("SELECT * FROM r WHERE a = 1 AND a = 2", "two conditions on \"a\""),
        ("SELECT * FROM r WHERE a > 1 AND a > 2", "two conditions on \"a__gt\""),
        ("SELECT * FROM r WHERE a > 1 AND 2 < a", "two conditions on \"a__gt\""),
        ("SELECT * FROM r WHERE a__gt = 1", "column names with __ cannot be filtered on"),
        ("SELECT * FROM r WHERE active", "a bare column is not a condition in WHERE"),
        ("SELECT * FROM r WHERE a = 'x' COLLATE \"C\"", "is not allowed"),
        ("SELECT * FROM r WHERE a = 1::text", "casts are not allowed"),
        ("SELECT * FROM r WHERE a = 99999999999999999999", "the integer \"99999999999999999999\" is out of range"),
        ("SELECT * FROM r WHERE a = 1e999", "not a finite number"),
        ("SELECT * FROM r WHERE a = X'00'", "only single-quoted strings, numbers, TRUE and FALSE"),
        ("SELECT * FROM r WHERE a = -'x'", "- applies to numbers only"),
        ("SELECT * FROM \"my-table\"", "expected a table name, got \"my-table\""),
        ("SELECT \"a b\" FROM r", "expected a column name, got \"a b\""),
        ("SELECT * FROM \"drop table r;--\"", "expected a table name"),
        ("SELECT *, name FROM r", "* cannot be repeated or combined with column names"),
        ("SELECT * FROM r ORDER BY lower(name)", "function calls are not allowed in ORDER BY"),
        ("SELECT * FROM r ORDER BY 1", "is not allowed in ORDER BY"),
        ("SELECT * FROM r ORDER BY name NULLS FIRST", "NULLS FIRST / NULLS LAST is not allowed"),
        ("SELECT * FROM r ORDER BY r.name", "qualified names are not allowed in ORDER BY"),
        ("SELECT * FROM r LIMIT 10001", "LIMIT must be at most 10000, got 10001"),
        ("SELECT * FROM r LIMIT -1", "expected a number after LIMIT"),
        ("SELECT * FROM r LIMIT 1.5", "expected a number after LIMIT"),
        ("SELECT * FROM r LIMIT 'x'", "expected a number after LIMIT"),
        ("SELECT * FROM r LIMIT 2, 5", "LIMIT offset, count is not allowed"),
        ("SELECT * FROM r OFFSET 99999999999999999999", "too large"),
        ("SELECT * FROM r OFFSET 9223372036854775808", "OFFSET is too large"),
        ("SELECT * FROM r FETCH FIRST 5 ROWS ONLY", "FETCH is not allowed"),
        ("SELECT * FROM r WHERE", "does not parse"),
        ("SELECT", "SELECT needs FROM and one table"),
        ("SELECT * FROM", "does not parse"),
        ("SELECT * FROM r WHERE name = 'unterminated", "does not parse"),
        ("SELECT name", "SELECT needs FROM and one table"),
    ]);
    // A query that starts with WITH or a parenthesis is no SELECT: it is searched for,
    // never run.
    for q in ["WITH x AS (SELECT 1) SELECT * FROM x", "(SELECT * FROM r)"] {
        assert!(matches!(parse(q), Ok(RemQuery::Search { implicit: true, .. })), "{q}");
    }
}

/// Runs `f` on a thread with a 2 MiB stack, the size of a tokio worker's and of a test
/// thread's by default, so that the bound does not depend on `RUST_MIN_STACK`.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new().stack_size(2 << 20).spawn(f).unwrap().join().unwrap();
}

#[test]
fn select_nesting_is_bounded_without_overflowing_the_stack() {
    on_small_stack(|| {
        for depth in [30, 60, 1000, 3000] {
            let nested = format!("SELECT * FROM r WHERE {}a = 1{}", "(".repeat(depth), ")".repeat(depth));
            match parse(&nested) {
                Ok(_) => assert!(depth < 50, "depth {depth} parsed"),
                Err(e) => assert!(e.message.contains("nested too deeply"), "depth {depth}: {e}"),
            }
            // 30 NOTs overflowed 2 MiB in a debug build before the parser's depth limit.
            for q in [
                format!("SELECT * FROM r WHERE {}a = 1", "NOT ".repeat(depth)),
                format!("SELECT * FROM r WHERE a = {}1", "- ".repeat(depth)),
                format!(
                    "SELECT * FROM r WHERE a = {}1{}",
                    "CASE WHEN 1 THEN ".repeat(depth / 10),
                    " END".repeat(depth / 10)
                ),
                format!("SELECT * FROM r WHERE a IN {}1{}", "(".repeat(depth), ")".repeat(depth)),
                format!("SELECT {}a{} FROM r", "(".repeat(depth), ")".repeat(depth)),
            ] {
                assert!(parse(&q).is_err(), "depth {depth}: {q:.60}");
            }
        }
        // Chains the SQL parser builds in a loop are as deep as they are long.
        for q in [
            format!("SELECT * FROM r WHERE x = a{}", "->b".repeat(3000)),
            format!("SELECT * FROM r WHERE a{} = 1", "->b".repeat(3000)),
            format!("SELECT * FROM r WHERE {} = x", vec!["1"; 3000].join("+")),
            format!("SELECT * FROM r WHERE x = a{}", "[1]".repeat(3000)),
            format!("SELECT a{} FROM r", ".b".repeat(3000)),
            format!(
                "SELECT * FROM r WHERE {}",
                (0..1000).map(|i| format!("c{i} = {i}")).collect::<Vec<_>>().join(" OR ")
            ),
        ] {
            assert!(q.len() <= MAX_QUERY_BYTES);
            assert!(parse(&q).is_err(), "{q:.60}");
        }
        // A flat chain of ANDs parses, and is walked without recursion.
        let n = 800;
        let chain = (0..n).map(|i| format!("c{i} = {i}")).collect::<Vec<_>>().join(" AND ");
        let q = format!("SELECT * FROM r WHERE {chain}");
        assert!(q.len() <= MAX_QUERY_BYTES);
        match parse(&q).unwrap() {
            RemQuery::Select(s) => assert_eq!(s.filters.len(), n),
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn errors_quote_at_most_a_bounded_excerpt_of_the_query() {
    let long = "a".repeat(5000);
    for q in [
        format!("SEARCH \"x\" {long}"),
        format!("LOOKUP \"x\" {long}"),
        format!("SELECT * FROM r WHERE a = {long}"),
        format!("TRAVERSE {long} WITH LOOKUP a"),
    ] {
        let e = parse(&q).unwrap_err();
        assert!(e.message.len() < 400, "{} bytes: {}", e.message.len(), e.message);
    }
}

#[test]
fn errors_display_their_message_alone() {
    let e = parse("GET a, b").unwrap_err();
    assert_eq!(e.to_string(), e.message);
}
