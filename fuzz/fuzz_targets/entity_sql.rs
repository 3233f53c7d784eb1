//! JSON to SQL on arbitrary input, for every dialect and core model: a filter object (with
//! ordering, limit and offset) becomes a `SELECT`, an entity object becomes an upsert, or
//! each is refused with an error; nothing panics, and no string the input supplies ever
//! appears in the SQL text: values are bound, identifiers come from the model.
//!
//! The SQL is judged in two parts: every quoted identifier must be a plain word (a value
//! smuggled into one would carry its quote or break-out character), and no input string may
//! appear, raw or with its quotes escaped, in the text outside the quoted identifiers. (The
//! first oracle searched the whole text and flagged the value "content`", which is only the
//! end of the legitimate identifier `content`.)
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use p8fs_sql_dialect::DialectKind;
use p8fs_sql_dialect::entity::dml::{self, UpsertRow};
use p8fs_sql_dialect::entity::{EntityQuery, Layout};
use p8fs_sql_dialect::model::core_models;
use serde_json::{Map, Value};

/// Strings of the input that must not reach the SQL text: long enough not to be a keyword
/// or an identifier by chance, and holding a character SQL would need to break out.
fn hostile_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if s.chars().count() >= 6 && s.contains(['\'', ';', '\\', '"', '`']) {
                out.push(s.clone());
            }
        }
        Value::Array(a) => a.iter().for_each(|x| hostile_strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| hostile_strings(x, out)),
        _ => {}
    }
}

/// Splits `sql` into its quoted identifiers (with the dialect's quote `q`, doubled inside)
/// and the rest of the text, where each identifier is replaced by a space. String literals
/// the SQL spells out ('...') are copied to the rest whole, so a quote inside one does not
/// start an identifier.
fn split_identifiers(sql: &str, q: char) -> (Vec<String>, String) {
    let mut idents = Vec::new();
    let mut rest = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            rest.push(c);
            for c in chars.by_ref() {
                rest.push(c);
                if c == '\'' {
                    break;
                }
            }
            continue;
        }
        if c != q {
            rest.push(c);
            continue;
        }
        let mut ident = String::new();
        loop {
            match chars.next() {
                None => panic!("an unterminated quoted identifier in: {sql}"),
                Some(c) if c == q && chars.peek() == Some(&q) => {
                    chars.next();
                    ident.push(q);
                }
                Some(c) if c == q => break,
                Some(c) => ident.push(c),
            }
        }
        idents.push(ident);
        rest.push(' ');
    }
    (idents, rest)
}

/// Asserts the SQL carries no input string: identifiers are plain words, and no hostile
/// string (raw or with a quote character doubled or backslash-escaped) is in the rest.
fn assert_clean(what: &str, kind: DialectKind, sql: &str, hostile: &[String]) {
    let (idents, rest) = split_identifiers(sql, kind.dialect().quote());
    for ident in &idents {
        assert!(
            !ident.is_empty() && ident.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{kind:?}: the {what} quotes the identifier {ident:?}: {sql}"
        );
    }
    for s in hostile {
        let forms = [
            s.clone(),
            s.replace('\'', "''"),
            s.replace('"', "\"\""),
            s.replace('`', "``"),
            s.replace('\\', "\\\\").replace('\'', "\\'"),
        ];
        for form in &forms {
            assert!(!rest.contains(form.as_str()), "{kind:?}: the input string {s:?} is in the {what}: {sql}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, json)) = data.split_first() else { return };
    let Ok(Value::Object(input)) = serde_json::from_slice::<Value>(json) else { return };
    let models = core_models();
    let model = &models[usize::from(pick) % models.len()];
    let mut hostile = Vec::new();
    hostile_strings(&Value::Object(input.clone()), &mut hostile);
    let order: Vec<String> = input
        .get("$order")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let limit = input.get("$limit").and_then(Value::as_u64);
    let offset = input.get("$offset").and_then(Value::as_u64);
    let filters: Map<String, Value> =
        input.iter().filter(|(k, _)| !k.starts_with('$')).map(|(k, v)| (k.clone(), v.clone())).collect();
    let layout = Layout::default();
    let tenant = "tenant-a";
    let query = EntityQuery::parse(model, &filters, &order, limit, offset);
    let now = Utc.timestamp_opt(1_700_000_000, 0).single().unwrap_or_default();
    for kind in DialectKind::ALL {
        let d = kind.dialect();
        if let Ok(q) = &query
            && let Ok(stmt) = dml::select(d, model, &layout, tenant, q)
        {
            assert_clean("SELECT", kind, &stmt.sql, &hostile);
        }
        let row = UpsertRow { id: "0f8fad5b-d9cb-469f-a165-70867728950e".into(), fields: &filters };
        if let Ok(stmt) = dml::upsert(d, model, &layout, tenant, &[row], now) {
            assert_clean("upsert", kind, &stmt.sql, &hostile);
        }
    }
});
