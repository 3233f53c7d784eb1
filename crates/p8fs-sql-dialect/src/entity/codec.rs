//! Entity JSON to bound values, and result rows back to entity JSON, by the model's types.

use chrono::{DateTime, Utc};
use sea_query::{Expr, Value};
use serde_json::{Map, Value as Json};

use crate::model::{FieldType, Model};
use crate::{Dialect, Error, Result, SqlValue};

/// A timestamp from entity JSON: RFC 3339 text.
pub fn parse_timestamp(model: &Model, field: &str, v: &Json) -> Result<DateTime<Utc>> {
    let s = v.as_str().ok_or_else(|| type_error(model, field, "an RFC 3339 timestamp string", v))?;
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Error::invalid_input(format!("{model}.{field}: {s:?} is not an RFC 3339 timestamp: {e}")))
}

/// Formats a timestamp for entity JSON (RFC 3339, microseconds, `Z`).
pub fn format_timestamp(t: DateTime<Utc>) -> String {
    // Precomputed items: `format("%Y-...")` parses its pattern on every call (decoding a
    // row formats two timestamps).
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// What kind of JSON value `v` is, for error messages (`a string`, `an array`, ...).
pub fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

fn type_error(model: &Model, field: &str, want: &str, got: &Json) -> Error {
    Error::invalid_input(format!("{model}.{field} must be {want}, got {}", json_kind(got)))
}

/// The bound expression for `value` in `field` of type `ty` (`null` binds SQL `NULL`):
/// one placeholder bound to [`bind_value`].
pub fn bind_field(d: &dyn Dialect, model: &Model, field: &str, ty: FieldType, v: &Json) -> Result<Expr> {
    bind_value(d, model, field, ty, v).map(Expr::val)
}

/// The value bound for `value` in `field` of type `ty`, checked against the type (`null`
/// binds the dialect's typed SQL `NULL`).
///
/// # Errors
/// [`crate::ErrorKind::InvalidInput`] naming the field, the type wanted and what was given.
pub fn bind_value(d: &dyn Dialect, model: &Model, field: &str, ty: FieldType, v: &Json) -> Result<Value> {
    if v.is_null() {
        return Ok(d.typed_null(ty));
    }
    Ok(match ty {
        FieldType::Text => v.as_str().ok_or_else(|| type_error(model, field, "a string", v))?.into(),
        FieldType::Uuid => {
            let s = v.as_str().ok_or_else(|| type_error(model, field, "a UUID string", v))?;
            uuid::Uuid::parse_str(s)
                .map_err(|_| Error::invalid_input(format!("{model}.{field}: {s:?} is not a UUID")))?;
            s.into()
        }
        FieldType::Int => v.as_i64().ok_or_else(|| type_error(model, field, "an integer", v))?.into(),
        FieldType::Float => v.as_f64().ok_or_else(|| type_error(model, field, "a number", v))?.into(),
        FieldType::Bool => v.as_bool().ok_or_else(|| type_error(model, field, "a boolean", v))?.into(),
        FieldType::Timestamp => d.timestamp_value(parse_timestamp(model, field, v)?),
        FieldType::JsonObject => {
            if !v.is_object() {
                return Err(type_error(model, field, "a JSON object", v));
            }
            d.json_bound(v)
        }
        FieldType::JsonArray => {
            if !v.is_array() {
                return Err(type_error(model, field, "a JSON array", v));
            }
            d.json_bound(v)
        }
        FieldType::TextArray => {
            let ok = v.as_array().is_some_and(|a| a.iter().all(Json::is_string));
            if !ok {
                return Err(type_error(model, field, "a list of strings", v));
            }
            d.json_bound(v)
        }
    })
}

/// Decodes one cell by its declared type (`None` for the system columns' types).
pub fn decode_cell(model: &Model, field: &str, ty: FieldType, cell: SqlValue) -> Result<Json> {
    let bad = |c: &SqlValue| Error::decode(format!("{model}.{field}: expected {}, found {}", ty.name(), c.kind_name()));
    Ok(match (ty, cell) {
        (_, SqlValue::Null) => Json::Null,
        (FieldType::Text | FieldType::Uuid, c) => Json::String(c.into_text()?),
        (FieldType::Int, SqlValue::Int(i)) => Json::from(i),
        (FieldType::Float, SqlValue::Float(f)) => Json::from(f),
        (FieldType::Float, SqlValue::Int(i)) => Json::from(i as f64),
        (FieldType::Bool, SqlValue::Bool(b)) => Json::Bool(b),
        (FieldType::Bool, SqlValue::Int(i)) => Json::Bool(i != 0),
        (FieldType::Timestamp, SqlValue::Timestamp(t)) => Json::String(format_timestamp(t)),
        (FieldType::Timestamp, SqlValue::Text(s)) => {
            let t = DateTime::parse_from_rfc3339(&s)
                .map(|t| t.with_timezone(&Utc))
                .or_else(|_| chrono::NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M:%S%.f").map(|n| n.and_utc()))
                .map_err(|_| Error::decode(format!("{model}.{field}: {s:?} is not a timestamp")))?;
            Json::String(format_timestamp(t))
        }
        (FieldType::JsonObject | FieldType::JsonArray | FieldType::TextArray, c) => c.into_json()?,
        (_, c) => return Err(bad(&c)),
    })
}

/// The columns every select returns, in order: system columns, then the model's fields.
pub fn select_columns(model: &Model) -> Vec<(String, FieldType)> {
    let mut cols = vec![
        ("id".to_owned(), FieldType::Text),
        ("tenant_id".to_owned(), FieldType::Text),
        ("created_at".to_owned(), FieldType::Timestamp),
        ("updated_at".to_owned(), FieldType::Timestamp),
    ];
    cols.extend(model.fields().iter().map(|f| (f.name.clone(), f.ty)));
    cols
}

/// Decodes a row selected with [`select_columns`] into entity JSON.
pub fn decode_row(model: &Model, row: crate::Row) -> Result<Map<String, Json>> {
    decode_with(model, &select_columns(model), row)
}

/// [`decode_row`] for every row of a result, the column list built once.
///
/// # Errors
/// As [`decode_row`].
pub fn decode_rows(model: &Model, rows: Vec<crate::Row>) -> Result<Vec<Map<String, Json>>> {
    let cols = select_columns(model);
    rows.into_iter().map(|r| decode_with(model, &cols, r)).collect()
}

fn decode_with(model: &Model, cols: &[(String, FieldType)], row: crate::Row) -> Result<Map<String, Json>> {
    if row.len() != cols.len() {
        return Err(Error::decode(format!("{model}: row has {} columns, expected {}", row.len(), cols.len())));
    }
    let mut out = Map::with_capacity(cols.len());
    for ((name, ty), cell) in cols.iter().zip(row) {
        let v = decode_cell(model, name, *ty, cell)?;
        out.insert(name.clone(), v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn timestamps_format_as_before() {
        // The text stored in SQLite and returned in entity JSON must not change.
        for t in [
            Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            Utc.timestamp_opt(1_790_000_000, 123_456_789).unwrap(),
            Utc.timestamp_opt(0, 999_999_999).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
        ] {
            assert_eq!(format_timestamp(t), t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
        }
    }
}
