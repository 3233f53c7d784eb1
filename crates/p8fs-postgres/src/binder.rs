//! Values in, values out: sea-query values to tokio-postgres parameters and result cells
//! to [`SqlValue`].

use p8fs_sql_dialect::sea_query::Value;
use p8fs_sql_dialect::{Error, Result, SqlValue};
use tokio_postgres::Row;
use tokio_postgres::types::{ToSql, Type};

/// One bound parameter.
pub(crate) type Param = Box<dyn ToSql + Sync + Send>;

/// Borrows parameters the way the driver's calls take them.
pub(crate) fn refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect()
}

/// Converts bound values to driver parameters. `NULL`s keep their Rust type so the server
/// sees a typed null.
pub(crate) fn bind(values: &[Value]) -> Result<Vec<Param>> {
    values.iter().map(bind_one).collect()
}

fn bind_one(v: &Value) -> Result<Param> {
    Ok(match v {
        Value::Bool(x) => Box::new(*x),
        Value::TinyInt(x) => Box::new(x.map(i16::from)),
        Value::SmallInt(x) => Box::new(*x),
        Value::Int(x) => Box::new(*x),
        Value::BigInt(x) => Box::new(*x),
        Value::TinyUnsigned(x) => Box::new(x.map(i16::from)),
        Value::SmallUnsigned(x) => Box::new(x.map(i32::from)),
        Value::Unsigned(x) => Box::new(x.map(i64::from)),
        Value::BigUnsigned(x) => Box::new(
            x.map(i64::try_from)
                .transpose()
                .map_err(|_| Error::invalid_input("unsigned value does not fit in BIGINT"))?,
        ),
        Value::Float(x) => Box::new(*x),
        Value::Double(x) => Box::new(*x),
        Value::String(s) => Box::new(s.clone()),
        Value::Char(c) => Box::new(c.map(|c| c.to_string())),
        Value::Bytes(b) => Box::new(b.clone()),
        Value::Json(j) => Box::new(j.as_deref().cloned()),
        Value::Vector(v) => Box::new(v.clone()),
        Value::ChronoDateTimeUtc(t) => Box::new(*t),
        other => return Err(Error::invalid_input(format!("value {other:?} has no PostgreSQL binding"))),
    })
}

/// Converts one result row to [`SqlValue`]s, by each column's declared type.
pub(crate) fn decode_row(row: &Row) -> Result<Vec<SqlValue>> {
    (0..row.len()).map(|i| decode_cell(row, i)).collect()
}

fn decode_cell(row: &Row, i: usize) -> Result<SqlValue> {
    let ty = row.columns()[i].type_();
    let err = |e: tokio_postgres::Error| Error::decode(format!("column {i} of type {ty}")).with_source(e);
    macro_rules! get {
        ($t:ty, $wrap:expr) => {
            row.try_get::<_, Option<$t>>(i).map_err(err)?.map_or(SqlValue::Null, $wrap)
        };
    }
    Ok(match *ty {
        Type::BOOL => get!(bool, SqlValue::Bool),
        Type::INT2 => get!(i16, |x| SqlValue::Int(x.into())),
        Type::INT4 => get!(i32, |x| SqlValue::Int(x.into())),
        Type::INT8 => get!(i64, SqlValue::Int),
        Type::FLOAT4 => get!(f32, |x| SqlValue::Float(x.into())),
        Type::FLOAT8 => get!(f64, SqlValue::Float),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => get!(String, SqlValue::Text),
        Type::BYTEA => get!(Vec<u8>, SqlValue::Bytes),
        Type::JSON | Type::JSONB => get!(serde_json::Value, SqlValue::Json),
        Type::TIMESTAMPTZ => get!(chrono::DateTime<chrono::Utc>, SqlValue::Timestamp),
        Type::TIMESTAMP => get!(chrono::NaiveDateTime, |t| SqlValue::Timestamp(t.and_utc())),
        _ if ty.name() == "vector" => get!(pgvector::Vector, |v| SqlValue::Vector(v.to_vec())),
        _ => return Err(Error::decode(format!("column {i} has type {ty}, which p8fs does not read"))),
    })
}
