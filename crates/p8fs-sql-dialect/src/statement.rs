//! Statements (what providers execute) and the values that come back.

use sea_query::Value;

/// One SQL statement ready to execute: the text with placeholders and the values bound to
/// them, in order.
///
/// Invariant: `sql` contains no user data. Identifiers in it come from a model and are
/// quoted by the builder; every value is in `values`.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// SQL text, with the dialect's placeholders (`?` or `$n`).
    pub sql: String,
    /// Values for the placeholders, in order.
    pub values: Vec<Value>,
}

impl Statement {
    /// A statement with no parameters (DDL, `SELECT VERSION()`).
    pub fn raw(sql: impl Into<String>) -> Self {
        Self { sql: sql.into(), values: Vec::new() }
    }
}

/// One value read back from a database, in the driver-neutral form providers return.
///
/// Providers decode by the column's declared type where the driver reports it. Engines
/// that report JSON as text (MariaDB, SQLite) return [`SqlValue::Text`]; the model, which
/// knows the column is JSON, turns it into JSON with [`SqlValue::into_json`]. Nothing is
/// guessed from the first character of a string.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// SQL `NULL`.
    Null,
    /// A boolean.
    Bool(bool),
    /// Any integer type.
    Int(i64),
    /// Any floating point or decimal type.
    Float(f64),
    /// Text.
    Text(String),
    /// Binary data.
    Bytes(Vec<u8>),
    /// A JSON document, from a column the engine itself types as JSON.
    Json(serde_json::Value),
    /// A vector, from a column the engine itself types as a vector.
    Vector(Vec<f32>),
    /// A point in time, from a column the engine itself types as a timestamp (read as UTC).
    Timestamp(chrono::DateTime<chrono::Utc>),
}

impl SqlValue {
    /// This value as JSON, for a column the model declares as JSON: JSON stays JSON,
    /// text is parsed, `NULL` is JSON `null`.
    ///
    /// # Errors
    /// [`crate::ErrorKind::Decode`] when text is not valid JSON or the value is of
    /// another kind.
    pub fn into_json(self) -> crate::Result<serde_json::Value> {
        match self {
            SqlValue::Json(v) => Ok(v),
            SqlValue::Null => Ok(serde_json::Value::Null),
            SqlValue::Text(s) => {
                serde_json::from_str(&s).map_err(|e| crate::Error::decode(format!("column is not valid JSON: {e}")))
            }
            SqlValue::Bytes(b) => {
                serde_json::from_slice(&b).map_err(|e| crate::Error::decode(format!("column is not valid JSON: {e}")))
            }
            other => Err(crate::Error::decode(format!("expected JSON, found {}", other.kind_name()))),
        }
    }

    /// This value as a vector, for a column the model declares as a vector: vectors stay
    /// vectors, text in the `[1,2,3]` form is parsed, bytes are little-endian `f32`s.
    ///
    /// # Errors
    /// [`crate::ErrorKind::Decode`] when the value cannot be read as a vector.
    pub fn into_vector(self) -> crate::Result<Vec<f32>> {
        match self {
            SqlValue::Vector(v) => Ok(v),
            SqlValue::Text(s) => crate::parse_vector_text(&s),
            SqlValue::Bytes(b) => crate::vector_from_le_bytes(&b),
            other => Err(crate::Error::decode(format!("expected a vector, found {}", other.kind_name()))),
        }
    }

    /// This value as text.
    ///
    /// # Errors
    /// [`crate::ErrorKind::Decode`] when the value is not text (bytes must be UTF-8).
    pub fn into_text(self) -> crate::Result<String> {
        match self {
            SqlValue::Text(s) => Ok(s),
            SqlValue::Bytes(b) => {
                String::from_utf8(b).map_err(|_| crate::Error::decode("expected text, found bytes that are not UTF-8"))
            }
            other => Err(crate::Error::decode(format!("expected text, found {}", other.kind_name()))),
        }
    }

    /// This value as borrowed text.
    ///
    /// # Errors
    /// As [`SqlValue::into_text`].
    pub fn as_text(&self) -> crate::Result<&str> {
        match self {
            SqlValue::Text(s) => Ok(s),
            SqlValue::Bytes(b) => std::str::from_utf8(b)
                .map_err(|_| crate::Error::decode("expected text, found bytes that are not UTF-8")),
            other => Err(crate::Error::decode(format!("expected text, found {}", other.kind_name()))),
        }
    }

    /// A short name of the value's kind, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            SqlValue::Null => "NULL",
            SqlValue::Bool(_) => "bool",
            SqlValue::Int(_) => "integer",
            SqlValue::Float(_) => "float",
            SqlValue::Text(_) => "text",
            SqlValue::Bytes(_) => "bytes",
            SqlValue::Json(_) => "JSON",
            SqlValue::Vector(_) => "vector",
            SqlValue::Timestamp(_) => "timestamp",
        }
    }
}

/// One row: the values in the order of the statement's select list.
pub type Row = Vec<SqlValue>;
