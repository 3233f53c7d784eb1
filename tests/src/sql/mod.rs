//! SQL suites: run on every SQL backend (SQLite, PostgreSQL, MariaDB, TiDB when given).

mod probe;

use crate::case;
use crate::harness::Case;

/// Every SQL case.
pub fn cases() -> Vec<Case> {
    vec![
        case!("sql", probe::server_reports_its_flavor_and_version),
        case!("sql", probe::json_round_trips_every_kind),
        case!("sql", probe::vector_round_trips_exactly),
        case!("sql", probe::hostile_values_are_stored_literally),
        case!("sql", probe::duplicate_primary_key_is_a_unique_violation),
        case!("sql", probe::non_finite_vectors_are_rejected),
    ]
}
