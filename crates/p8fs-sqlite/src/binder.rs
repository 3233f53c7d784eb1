//! Values in, values out: sea-query values to SQLite values and back.

use p8fs_sql_dialect::sea_query::Value;
use p8fs_sql_dialect::{Error, Result, SqlValue, vector_to_le_bytes};
use rusqlite::types::{Value as Lite, ValueRef};

/// Converts bound values to SQLite values.
pub(crate) fn bind(values: &[Value]) -> Result<Vec<Lite>> {
    values.iter().map(bind_one).collect()
}

fn bind_one(v: &Value) -> Result<Lite> {
    let int = |x: Option<i64>| x.map_or(Lite::Null, Lite::Integer);
    Ok(match v {
        Value::Bool(x) => int(x.map(i64::from)),
        Value::TinyInt(x) => int(x.map(i64::from)),
        Value::SmallInt(x) => int(x.map(i64::from)),
        Value::Int(x) => int(x.map(i64::from)),
        Value::BigInt(x) => int(*x),
        Value::TinyUnsigned(x) => int(x.map(i64::from)),
        Value::SmallUnsigned(x) => int(x.map(i64::from)),
        Value::Unsigned(x) => int(x.map(i64::from)),
        Value::BigUnsigned(x) => int(x
            .map(i64::try_from)
            .transpose()
            .map_err(|_| Error::invalid_input("unsigned value does not fit in SQLite's INTEGER"))?),
        Value::Float(x) => x.map_or(Lite::Null, |f| Lite::Real(f.into())),
        Value::Double(x) => x.map_or(Lite::Null, Lite::Real),
        Value::String(s) => s.as_ref().map_or(Lite::Null, |s| Lite::Text(s.clone())),
        Value::Char(c) => c.map_or(Lite::Null, |c| Lite::Text(c.to_string())),
        Value::Bytes(b) => b.as_ref().map_or(Lite::Null, |b| Lite::Blob(b.clone())),
        Value::Json(j) => j.as_ref().map_or(Lite::Null, |j| Lite::Text(j.to_string())),
        Value::ChronoDateTimeUtc(t) => {
            t.map_or(Lite::Null, |t| Lite::Text(p8fs_sql_dialect::entity::codec::format_timestamp(t)))
        }
        Value::Vector(v) => match v {
            Some(v) => Lite::Blob(vector_to_le_bytes(v.as_slice())?),
            None => Lite::Null,
        },
        other => return Err(Error::invalid_input(format!("value {other:?} has no SQLite binding"))),
    })
}

/// Converts one SQLite cell. SQLite has no JSON or vector type: those come back as text
/// and blobs, decoded by the model that knows the column's type.
pub(crate) fn decode_cell(v: ValueRef<'_>) -> Result<SqlValue> {
    Ok(match v {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(i) => SqlValue::Int(i),
        ValueRef::Real(f) => SqlValue::Float(f),
        ValueRef::Text(t) => SqlValue::Text(
            std::str::from_utf8(t).map_err(|_| Error::decode("text column holds bytes that are not UTF-8"))?.to_owned(),
        ),
        ValueRef::Blob(b) => SqlValue::Bytes(b.to_vec()),
    })
}
