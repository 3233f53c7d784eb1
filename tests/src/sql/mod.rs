//! SQL suites: run on every SQL backend (SQLite, PostgreSQL, MariaDB, TiDB when given).

mod probe;

use crate::case;
use crate::harness::{Case, Suite};

/// Every SQL case.
pub fn cases() -> Vec<Case> {
    vec![
        case!(Suite::Sql, probe::server_reports_its_flavor_and_version),
        case!(Suite::Sql, probe::json_round_trips_every_kind),
        case!(Suite::Sql, probe::vector_round_trips_exactly),
        case!(Suite::Sql, probe::hostile_values_are_stored_literally),
        case!(Suite::Sql, probe::duplicate_primary_key_is_a_unique_violation),
        case!(Suite::Sql, probe::non_finite_vectors_are_rejected),
    ]
}
