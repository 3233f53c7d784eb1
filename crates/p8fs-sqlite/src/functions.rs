//! SQL functions p8fs registers on every SQLite connection, so SQLite answers filters the
//! way the other engines do: case-sensitive `LIKE`, Unicode-aware case-insensitive `LIKE`
//! (both in linear time, see [`crate::like`]), MySQL's JSON containment and overlap, and
//! vector distances ([`crate::distance`]).

use rusqlite::Connection;
use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::ValueRef;
use serde_json::Value as Json;

use crate::like::{PatternTooLong, like};

/// Registers `p8fs_like`, `p8fs_ilike`, `p8fs_json_contains`, `p8fs_json_overlaps` and the
/// vector distances of [`crate::distance`].
pub(crate) fn register(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("p8fs_like", 2, flags, |ctx| text2(ctx, like))?;
    conn.create_scalar_function("p8fs_ilike", 2, flags, |ctx| {
        text2(ctx, |v, p| like(&v.to_lowercase(), &p.to_lowercase()))
    })?;
    conn.create_scalar_function("p8fs_json_contains", 2, flags, |ctx| json2(ctx, contains))?;
    conn.create_scalar_function("p8fs_json_overlaps", 2, flags, |ctx| json2(ctx, overlaps))?;
    crate::distance::register(conn, flags)?;
    Ok(())
}

fn text_arg(ctx: &Context<'_>, i: usize) -> rusqlite::Result<Option<String>> {
    Ok(match ctx.get_raw(i) {
        ValueRef::Null => None,
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Integer(n) => Some(n.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
    })
}

fn text2(ctx: &Context<'_>, f: impl Fn(&str, &str) -> Result<bool, PatternTooLong>) -> rusqlite::Result<Option<bool>> {
    match (text_arg(ctx, 0)?, text_arg(ctx, 1)?) {
        (Some(v), Some(p)) => f(&v, &p).map(Some).map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e))),
        _ => Ok(None),
    }
}

fn json2(ctx: &Context<'_>, f: impl Fn(&Json, &Json) -> bool) -> rusqlite::Result<Option<bool>> {
    match (text_arg(ctx, 0)?, text_arg(ctx, 1)?) {
        (Some(a), Some(b)) => {
            let a: Json = serde_json::from_str(&a).map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))?;
            let b: Json = serde_json::from_str(&b).map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))?;
            Ok(Some(f(&a, &b)))
        }
        _ => Ok(None),
    }
}

fn scalar_eq(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// MySQL `JSON_CONTAINS(target, candidate)`.
pub(crate) fn contains(target: &Json, candidate: &Json) -> bool {
    match (target, candidate) {
        (Json::Array(t), Json::Array(c)) => c.iter().all(|ce| t.iter().any(|te| contains(te, ce))),
        (Json::Array(t), c) => t.iter().any(|te| contains(te, c)),
        (Json::Object(t), Json::Object(c)) => c.iter().all(|(k, cv)| t.get(k).is_some_and(|tv| contains(tv, cv))),
        (Json::Object(_), _) | (_, Json::Object(_) | Json::Array(_)) => false,
        (t, c) => scalar_eq(t, c),
    }
}

/// MySQL `JSON_OVERLAPS(a, b)`.
pub(crate) fn overlaps(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Array(x), Json::Array(y)) => x.iter().any(|e| y.iter().any(|f| e == f || scalar_eq(e, f))),
        (Json::Array(x), s) | (s, Json::Array(x)) => x.iter().any(|e| scalar_eq(e, s) || e == s),
        (Json::Object(x), Json::Object(y)) => x.iter().any(|(k, v)| y.get(k) == Some(v)),
        (x, y) => scalar_eq(x, y),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn like_runs_in_sql_and_refuses_overlong_patterns_clearly() {
        let conn = Connection::open_in_memory().unwrap();
        register(&conn).unwrap();
        let q = "SELECT p8fs_like(?1, ?2), p8fs_ilike(?1, ?2)";
        let got: (bool, bool) = conn.query_row(q, ["Hello World", "hello%"], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        assert_eq!(got, (false, true));
        let long = "%".repeat(crate::MAX_PATTERN_CHARS + 1);
        let e = conn.query_row(q, ["x", long.as_str()], |r| r.get::<_, bool>(0)).unwrap_err();
        assert!(e.to_string().contains("at most 4096 characters"), "{e}");
    }

    #[test]
    fn containment_follows_mysql() {
        assert!(contains(&json!({"a": 1, "b": [1, 2]}), &json!({"b": [2]})));
        assert!(!contains(&json!({"a": 1}), &json!({"a": 2})));
        assert!(contains(&json!(["x", "y"]), &json!("x")));
        assert!(contains(&json!(["x", "y"]), &json!(["y", "x"])));
        assert!(!contains(&json!(["x"]), &json!(["x", "z"])));
        assert!(contains(&json!({"n": 1.0}), &json!({"n": 1})));
        assert!(overlaps(&json!(["a", "b"]), &json!(["c", "b"])));
        assert!(!overlaps(&json!(["a"]), &json!(["c"])));
    }
}
