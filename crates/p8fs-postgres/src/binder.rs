//! Values in, values out: sea-query values to tokio-postgres parameters and result cells
//! to [`SqlValue`].

use p8fs_sql_dialect::sea_query::Value;
use p8fs_sql_dialect::{Error, Result, SqlValue};
use tokio_postgres::Row;
use tokio_postgres::types::{IsNull, ToSql, Type};

/// One bound value as a driver parameter, borrowed from the statement: no copy of its
/// text or bytes and no allocation per value (a 200-row upsert binds 1,600 of them).
#[derive(Debug)]
pub(crate) struct Param<'a>(&'a Value);

/// Borrows parameters the way the driver's calls take them.
pub(crate) fn refs<'a>(params: &'a [Param<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

/// The statement's values as driver parameters, each checked to have a PostgreSQL binding
/// first (so a value without one fails before anything is sent). `NULL`s keep their Rust
/// type so the server sees a typed null.
pub(crate) fn bind(values: &[Value]) -> Result<Vec<Param<'_>>> {
    values
        .iter()
        .map(|v| {
            with_sql(v, |_| ()).map_err(Error::invalid_input)?;
            Ok(Param(v))
        })
        .collect()
}

/// Calls `f` with `v` as the Rust type the driver encodes: borrowed where the value's own
/// type has a binding, converted (small integers widened, a char as text) where not.
fn with_sql<R>(v: &Value, f: impl FnOnce(&(dyn ToSql + Sync)) -> R) -> std::result::Result<R, String> {
    Ok(match v {
        Value::Bool(x) => f(x),
        Value::TinyInt(x) => f(&x.map(i16::from)),
        Value::SmallInt(x) => f(x),
        Value::Int(x) => f(x),
        Value::BigInt(x) => f(x),
        Value::TinyUnsigned(x) => f(&x.map(i16::from)),
        Value::SmallUnsigned(x) => f(&x.map(i32::from)),
        Value::Unsigned(x) => f(&x.map(i64::from)),
        Value::BigUnsigned(x) => {
            f(&x.map(i64::try_from).transpose().map_err(|_| "unsigned value does not fit in BIGINT".to_owned())?)
        }
        Value::Float(x) => f(x),
        Value::Double(x) => f(x),
        Value::String(s) => f(&s.as_deref()),
        Value::Char(c) => f(&c.map(|c| c.to_string())),
        Value::Bytes(b) => f(&b.as_deref()),
        Value::Json(j) => f(&j.as_deref()),
        Value::Vector(v) => f(&v.as_ref()),
        Value::ChronoDateTimeUtc(t) => f(t),
        other => return Err(format!("value {other:?} has no PostgreSQL binding")),
    })
}

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        with_sql(self.0, |p| p.to_sql_checked(ty, out))?
    }

    /// Any type: which ones a value takes is its own binding's answer, asked by `to_sql`
    /// (the value's own `to_sql_checked`).
    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
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
