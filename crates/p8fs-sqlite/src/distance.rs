//! Vector distances as SQL functions, so SQLite orders and limits a search itself and keeps
//! only the best `limit` rows, instead of p8fs reading every embedding of a tenant.
//!
//! `p8fs_cosine_distance(stored, query)`, `p8fs_l2_distance` and `p8fs_ip_distance` (named
//! by [`Sqlite::distance_function`], which the dialect's search SQL calls) take
//! two little-endian `f32` blobs (the form SQLite stores vectors in) and return
//! [`Metric::distance`] of them, the very function the brute-force ground truth uses, so
//! SQLite's ranking equals it exactly. The query's vector is decoded once per statement
//! (SQLite keeps it as the argument's auxiliary data), the stored one once per row.

use p8fs_sql_dialect::{Metric, Sqlite, vector_from_le_bytes};
use rusqlite::Connection;
use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::ValueRef;

/// Registers the three distance functions.
pub(crate) fn register(conn: &Connection, flags: FunctionFlags) -> rusqlite::Result<()> {
    for metric in [Metric::Cosine, Metric::L2, Metric::InnerProduct] {
        conn.create_scalar_function(Sqlite::distance_function(metric), 2, flags, move |ctx| distance(ctx, metric))?;
    }
    Ok(())
}

fn decode(v: ValueRef<'_>) -> rusqlite::Result<Option<Vec<f32>>> {
    match v {
        ValueRef::Null => Ok(None),
        ValueRef::Blob(b) => {
            vector_from_le_bytes(b).map(Some).map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))
        }
        other => Err(rusqlite::Error::UserFunctionError(
            format!("a vector distance needs blobs, got {}", other.data_type()).into(),
        )),
    }
}

fn distance(ctx: &Context<'_>, metric: Metric) -> rusqlite::Result<Option<f64>> {
    let query = ctx.get_or_create_aux(1, decode)?;
    let (Some(stored), Some(query)) = (decode(ctx.get_raw(0))?, query.as_ref()) else { return Ok(None) };
    if stored.len() != query.len() {
        return Err(rusqlite::Error::UserFunctionError(
            format!("a stored vector has {} dimensions, the query {}", stored.len(), query.len()).into(),
        ));
    }
    Ok(Some(metric.distance(query, &stored)))
}

#[cfg(test)]
mod tests {
    use p8fs_sql_dialect::vector_to_le_bytes;

    use super::*;

    #[test]
    fn distances_equal_the_rust_ones_bit_for_bit() {
        let conn = Connection::open_in_memory().unwrap();
        register(&conn, FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC).unwrap();
        let a = [0.25_f32, -1.5, 3.0, 1e-3];
        let q = [-0.75_f32, 2.0, 0.5, -4.0];
        for metric in [Metric::Cosine, Metric::L2, Metric::InnerProduct] {
            let sql = format!("SELECT {}(?1, ?2)", Sqlite::distance_function(metric));
            let got: f64 = conn
                .query_row(&sql, (vector_to_le_bytes(&a).unwrap(), vector_to_le_bytes(&q).unwrap()), |r| r.get(0))
                .unwrap();
            assert_eq!(got.to_bits(), metric.distance(&q, &a).to_bits(), "{metric:?}");
        }
        let e = conn
            .query_row(
                "SELECT p8fs_l2_distance(?1, ?2)",
                (vector_to_le_bytes(&a[..3]).unwrap(), vector_to_le_bytes(&q).unwrap()),
                |r| r.get::<_, f64>(0),
            )
            .unwrap_err();
        assert!(e.to_string().contains("3 dimensions"), "{e}");
    }
}
