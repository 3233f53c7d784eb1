//! SQL suites: run on every SQL backend (SQLite, PostgreSQL, MariaDB, TiDB).

pub mod cli;
pub mod core_api;
mod entity;
mod hybrid;
mod injection;
mod pool;
mod probe;
mod rem;
mod statements;
mod tenant_props;
mod tidb;
mod timeouts;
mod tls;
mod transactions;
mod transport;
mod vector;

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
        case!(Suite::Sql, probe::stacked_statements_never_run),
        case!(Suite::Sql, probe::non_finite_vectors_are_rejected),
        case!(Suite::Sql, entity::ddl_is_idempotent_and_versioned),
        case!(Suite::Sql, entity::crud_round_trip_keeps_types),
        case!(Suite::Sql, entity::filter_grammar_each_operator),
        case!(Suite::Sql, entity::ordering_limit_and_offset),
        case!(Suite::Sql, entity::batch_of_a_thousand),
        case!(Suite::Sql, entity::a_batch_of_large_texts_spans_statements),
        case!(Suite::Sql, entity::reupsert_merges_json_objects_and_keeps_the_rest),
        case!(Suite::Sql, entity::delete_cascades_to_embeddings),
        case!(Suite::Sql, entity::tenants_never_see_each_other),
        case!(Suite::Sql, entity::ids_cannot_be_squatted_or_probed_across_tenants),
        case!(Suite::Sql, entity::a_refused_upsert_writes_nothing),
        case!(Suite::Sql, entity::a_given_id_never_decides_which_row_an_upsert_meets),
        case!(Suite::Sql, entity::an_upsert_by_key_meets_the_keys_row_whatever_its_id),
        case!(Suite::Sql, entity::global_models_are_out_of_tenants_reach),
        case!(Suite::Sql, entity::existing_tables_migrate_to_tenant_keys_and_exact_collation),
        case!(Suite::Sql, entity::printed_schema_runs_twice_on_an_empty_database),
        case!(Suite::Sql, entity::metadata_cache_hits_issue_no_query),
        case!(Suite::Sql, entity::hostile_values_are_stored_and_matched_literally),
        case!(Suite::Sql, entity::rust_structs_round_trip_through_serde),
        case!(Suite::Sql, entity::extra_statements_commit_or_roll_back_with_the_rows),
        case!(Suite::Sql, core_api::core_finds_entities_by_name_and_storage_key),
        case!(Suite::Sql, core_api::core_isolates_tenants_with_the_same_name),
        case!(Suite::Sql, tenant_props::random_operations_by_many_tenants_never_cross_the_walls),
        case!(Suite::Sql, tenant_props::random_operations_over_http_never_cross_the_walls),
        case!(Suite::Sql, injection::injection_payloads_reach_the_server_only_as_bound_values),
        case!(Suite::Sql, core_api::core_delete_and_rename_update_mappings),
        case!(Suite::EmbeddedKv, core_api::core_repair_after_crash_between_row_and_mapping),
        case!(Suite::SqlServer, core_api::core_row_and_mapping_commit_together),
        case!(Suite::Sql, core_api::core_batch_store_with_mappings),
        case!(Suite::Sql, core_api::core_refused_store_leaves_no_rows_or_mappings),
        case!(Suite::SqlServer, cli::cli_runs_on_this_provider),
        case!(Suite::Sql, rem::rem_lookup_is_tenant_scoped),
        case!(Suite::Sql, rem::rem_fuzzy_and_search_rank_within_the_tenant),
        case!(Suite::Sql, rem::rem_select_is_parsed_never_passed_through),
        case!(Suite::Sql, rem::rem_traverse_walks_the_seeded_graph),
        case!(Suite::Sql, rem::edges_merge_by_destination_and_type),
        case!(Suite::Sql, rem::rem_generated_queries_answer_or_are_refused),
        case!(Suite::Sql, hybrid::text_search_ranks_words_within_the_tenant),
        case!(Suite::Sql, hybrid::text_search_takes_hostile_queries_as_words),
        case!(Suite::Sql, hybrid::hybrid_fills_its_limit_from_either_side),
        case!(Suite::Sql, hybrid::text_search_follows_updates_and_deletes),
        case!(Suite::Sql, vector::exact_search_equals_brute_force),
        case!(Suite::Sql, vector::index_search_keeps_recall),
        case!(Suite::Sql, vector::semantic_search_joins_on_id_and_dedupes),
        case!(Suite::Sql, vector::lexical_embedder_ranks_the_reference_examples),
        case!(Suite::SqlServer, statements::distinct_statements_keep_the_prepared_statements_bounded),
        case!(Suite::SqlServer, transactions::deadlocked_transactions_are_retried_and_applied_once),
        case!(Suite::SqlServer, timeouts::statements_past_the_deadline_fail_as_timeouts_and_the_pool_recovers),
        case!(Suite::SqlServer, tls::tls_connections_verify_the_server_unless_told_not_to),
        case!(Suite::SqlServer, pool::sequential_calls_reuse_one_pooled_connection),
        case!(Suite::SqlServer, transport::connections_use_the_transport_and_account_the_url_names),
        case!(Suite::Tidb, tidb::partitions_statistics_tiflash_and_placement_run_on_the_server),
        case!(Suite::Tidb, tidb::optimistic_write_conflicts_are_retried_then_reported_retryable),
    ]
}

/// Drops the schemas a test named `scratch` made (its own and its embeddings',
/// `{scratch}_e`; databases on the MySQL family); SQLite keeps none.
pub(crate) async fn drop_schemas(sql: &dyn p8fs_sql_dialect::SqlExecutor, scratch: &str) -> anyhow::Result<()> {
    use p8fs_sql_dialect::{DialectKind, Statement};
    for s in [scratch.to_owned(), format!("{scratch}_e")] {
        let stmt = match sql.dialect().kind() {
            DialectKind::Postgres => format!("DROP SCHEMA IF EXISTS \"{s}\" CASCADE"),
            DialectKind::MariaDb | DialectKind::Tidb => format!("DROP DATABASE IF EXISTS `{s}`"),
            DialectKind::Sqlite => continue,
        };
        sql.execute(&Statement::raw(stmt)).await?;
    }
    Ok(())
}
