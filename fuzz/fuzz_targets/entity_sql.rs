//! JSON to SQL on arbitrary input, for every dialect and core model: a filter object (with
//! ordering, limit and offset) becomes a `SELECT`, an entity object becomes an upsert, or
//! each is refused with an error; nothing panics, and no string the input supplies ever
//! appears in the SQL text: values are bound, identifiers come from the model.
//!
//! The SQL is judged by `p8fs_sql_dialect::text_check`: every quoted identifier must be a
//! plain word (a value smuggled into one would carry its quote or break-out character), and
//! no input string may appear, raw or with its quotes escaped, in the text outside the
//! quoted identifiers. (The first oracle searched the whole text and flagged the value
//! "content`", which is only the end of the legitimate identifier `content`.)
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use p8fs_sql_dialect::DialectKind;
use p8fs_sql_dialect::entity::dml::{self, UpsertRow};
use p8fs_sql_dialect::entity::{EntityQuery, Layout};
use p8fs_sql_dialect::model::core_models;
use p8fs_sql_dialect::text_check::outside_text_in;
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

/// Asserts the SQL carries no input string ([`outside_text_in`]).
fn assert_clean(what: &str, kind: DialectKind, sql: &str, hostile: &[String]) {
    let hostile: Vec<&str> = hostile.iter().map(String::as_str).collect();
    if let Some(problem) = outside_text_in(sql, kind.dialect().quote(), &hostile) {
        panic!("{kind:?}: in the {what}: {problem}");
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
