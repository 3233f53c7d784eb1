//! Values in, values out: sea-query values to `mysql_async` parameters and result cells
//! to [`SqlValue`].

use mysql_async::consts::ColumnType;
use mysql_async::{Row, Value as My};
use p8fs_sql_dialect::sea_query::Value;
use p8fs_sql_dialect::{Error, Result, SqlValue, format_vector_text};

/// Converts bound values to driver parameters.
pub(crate) fn bind(values: &[Value]) -> Result<Vec<My>> {
    values.iter().map(bind_one).collect()
}

fn bind_one(v: &Value) -> Result<My> {
    Ok(match v {
        Value::Bool(b) => b.map_or(My::NULL, |b| My::Int(i64::from(b))),
        Value::TinyInt(x) => x.map_or(My::NULL, |x| My::Int(x.into())),
        Value::SmallInt(x) => x.map_or(My::NULL, |x| My::Int(x.into())),
        Value::Int(x) => x.map_or(My::NULL, |x| My::Int(x.into())),
        Value::BigInt(x) => x.map_or(My::NULL, My::Int),
        Value::TinyUnsigned(x) => x.map_or(My::NULL, |x| My::UInt(x.into())),
        Value::SmallUnsigned(x) => x.map_or(My::NULL, |x| My::UInt(x.into())),
        Value::Unsigned(x) => x.map_or(My::NULL, |x| My::UInt(x.into())),
        Value::BigUnsigned(x) => x.map_or(My::NULL, My::UInt),
        Value::Float(x) => x.map_or(My::NULL, My::Float),
        Value::Double(x) => x.map_or(My::NULL, My::Double),
        Value::String(s) => s.as_ref().map_or(My::NULL, |s| My::Bytes(s.as_bytes().to_vec())),
        Value::Char(c) => c.map_or(My::NULL, |c| My::Bytes(c.to_string().into_bytes())),
        Value::Bytes(b) => b.as_ref().map_or(My::NULL, |b| My::Bytes(b.clone())),
        Value::Json(j) => j.as_ref().map_or(My::NULL, |j| My::Bytes(j.to_string().into_bytes())),
        Value::ChronoDateTimeUtc(t) => match t {
            // The session time zone is UTC, so the naive UTC time is what the column holds.
            Some(t) => {
                use chrono::{Datelike, Timelike};
                let n = t.naive_utc();
                My::Date(
                    u16::try_from(n.year())
                        .map_err(|_| Error::invalid_input(format!("year {} out of range", n.year())))?,
                    n.month() as u8,
                    n.day() as u8,
                    n.hour() as u8,
                    n.minute() as u8,
                    n.second() as u8,
                    n.nanosecond() / 1000,
                )
            }
            None => My::NULL,
        },
        Value::Vector(v) => match v {
            Some(v) => My::Bytes(format_vector_text(v.as_slice())?.into_bytes()),
            None => My::NULL,
        },
        other => {
            return Err(Error::invalid_input(format!("value {other:?} has no MySQL-protocol binding")));
        }
    })
}

/// Converts one result row to [`SqlValue`]s, by each column's declared type.
pub(crate) fn decode_row(mut row: Row) -> Result<Vec<SqlValue>> {
    let columns = row.columns();
    let mut out = Vec::with_capacity(columns.len());
    for (i, col) in columns.iter().enumerate() {
        let v = row.take::<My, _>(i).unwrap_or(My::NULL);
        out.push(decode_cell(v, col.column_type(), col.character_set() == BINARY_CHARSET)?);
    }
    Ok(out)
}

/// MySQL's character set number for binary data.
const BINARY_CHARSET: u16 = 63;

fn decode_cell(v: My, ty: ColumnType, binary: bool) -> Result<SqlValue> {
    Ok(match v {
        My::NULL => SqlValue::Null,
        My::Int(i) => SqlValue::Int(i),
        My::UInt(u) => SqlValue::Int(
            i64::try_from(u).map_err(|_| Error::decode(format!("unsigned value {u} does not fit in i64")))?,
        ),
        My::Float(f) => SqlValue::Float(f.into()),
        My::Double(f) => SqlValue::Float(f),
        My::Bytes(b) => match ty {
            ColumnType::MYSQL_TYPE_JSON => {
                SqlValue::Json(serde_json::from_slice(&b).map_err(|e| Error::decode(format!("JSON column: {e}")))?)
            }
            ColumnType::MYSQL_TYPE_DECIMAL | ColumnType::MYSQL_TYPE_NEWDECIMAL => {
                let s = String::from_utf8_lossy(&b);
                SqlValue::Float(s.parse().map_err(|_| Error::decode(format!("decimal {s:?}")))?)
            }
            ColumnType::MYSQL_TYPE_TINY
            | ColumnType::MYSQL_TYPE_SHORT
            | ColumnType::MYSQL_TYPE_INT24
            | ColumnType::MYSQL_TYPE_LONG
            | ColumnType::MYSQL_TYPE_LONGLONG => {
                let s = String::from_utf8_lossy(&b);
                SqlValue::Int(s.parse().map_err(|_| Error::decode(format!("integer {s:?}")))?)
            }
            ColumnType::MYSQL_TYPE_FLOAT | ColumnType::MYSQL_TYPE_DOUBLE => {
                let s = String::from_utf8_lossy(&b);
                SqlValue::Float(s.parse().map_err(|_| Error::decode(format!("float {s:?}")))?)
            }
            _ if binary => SqlValue::Bytes(b),
            _ => SqlValue::Text(
                String::from_utf8(b).map_err(|_| Error::decode("text column holds bytes that are not UTF-8"))?,
            ),
        },
        My::Date(y, mo, d, h, mi, s, us) => {
            let t = chrono::NaiveDate::from_ymd_opt(y.into(), mo.into(), d.into())
                .and_then(|date| date.and_hms_micro_opt(h.into(), mi.into(), s.into(), us))
                .ok_or_else(|| Error::decode(format!("invalid date {y}-{mo}-{d} {h}:{mi}:{s}.{us}")))?;
            SqlValue::Timestamp(t.and_utc())
        }
        My::Time(neg, days, h, mi, s, us) => {
            let sign = if neg { "-" } else { "" };
            SqlValue::Text(format!("{sign}{}:{mi:02}:{s:02}.{us:06}", u32::from(h) + days * 24))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_every_value_without_formatting_sql() {
        let vals = [
            Value::from("'; DROP TABLE t; --"),
            Value::Bool(Some(true)),
            Value::Json(Some(Box::new(serde_json::json!({"a": [1, null]})))),
            Value::String(None),
        ];
        let out = bind(&vals).unwrap();
        assert_eq!(out[0], My::Bytes(b"'; DROP TABLE t; --".to_vec()));
        assert_eq!(out[1], My::Int(1));
        assert_eq!(out[2], My::Bytes(br#"{"a":[1,null]}"#.to_vec()));
        assert_eq!(out[3], My::NULL);
    }

    #[test]
    fn decodes_by_declared_type_not_by_content() {
        let text = decode_cell(My::Bytes(b"{\"x\":1}".to_vec()), ColumnType::MYSQL_TYPE_VAR_STRING, false).unwrap();
        assert_eq!(text, SqlValue::Text("{\"x\":1}".into()));
        let json = decode_cell(My::Bytes(b"{\"x\":1}".to_vec()), ColumnType::MYSQL_TYPE_JSON, false).unwrap();
        assert_eq!(json, SqlValue::Json(serde_json::json!({"x": 1})));
        let blob = decode_cell(My::Bytes(vec![0, 159]), ColumnType::MYSQL_TYPE_BLOB, true).unwrap();
        assert_eq!(blob, SqlValue::Bytes(vec![0, 159]));
    }
}
