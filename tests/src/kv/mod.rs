//! KV suites: the `KvBackend` contract, run against every KV backend a test backend
//! offers. Test names match the behaviour sentences in the trait's docs.

mod contract;
pub mod crash;
mod reverse;
mod tenant_props;

use anyhow::{Context, Result};
use p8fs_kv::{Kv, TenantId, TenantKv};

use crate::case;
use crate::harness::{Case, Ctx, Suite};

/// Every KV case.
pub fn cases() -> Vec<Case> {
    use contract::*;
    vec![
        case!(Suite::Kv, get_returns_none_for_a_missing_key),
        case!(Suite::Kv, get_returns_the_last_written_value),
        case!(Suite::Kv, put_overwrites_the_previous_value),
        case!(Suite::Kv, put_stores_values_byte_for_byte),
        case!(Suite::Kv, json_round_trips_every_kind),
        case!(Suite::Kv, delete_removes_the_key),
        case!(Suite::Kv, delete_of_a_missing_key_succeeds),
        case!(Suite::Kv, get_hides_an_expired_key),
        case!(Suite::Kv, scan_hides_expired_keys),
        case!(Suite::Kv, put_without_ttl_clears_an_earlier_ttl),
        case!(Suite::Kv, scan_is_sorted_and_bounded),
        case!(Suite::Kv, scan_respects_the_limit),
        case!(Suite::Kv, scan_pages_have_no_duplicates_and_no_gaps),
        case!(Suite::Kv, scan_stays_in_its_namespace),
        case!(Suite::Kv, tenant_props::random_operations_by_many_tenants_never_cross_the_walls),
        case!(Suite::Kv, batch_get_omits_missing_keys),
        case!(Suite::Kv, batch_put_writes_every_entry),
        case!(Suite::Kv, batch_put_rejects_a_bad_entry_and_writes_nothing),
        case!(Suite::Kv, batch_delete_removes_every_key),
        case!(Suite::Kv, cas_succeeds_when_the_value_matches),
        case!(Suite::Kv, cas_creates_when_absent_is_expected),
        case!(Suite::Kv, cas_fails_with_the_current_value),
        case!(Suite::Kv, cas_increments_from_concurrent_tasks_are_not_lost),
        case!(Suite::Kv, concurrent_writers_leave_one_whole_value),
        case!(Suite::Kv, bad_keys_and_tenants_are_rejected),
        case!(Suite::Kv, dot_segments_are_refused_and_dotted_names_round_trip),
        case!(Suite::Kv, global_keys_live_outside_every_tenant),
        case!(Suite::Kv, delete_prefix_removes_only_that_prefix),
        case!(Suite::EmbeddedKv, crash::acknowledged_writes_survive_kill_9),
        case!(Suite::Kv, reverse::reverse_map_keys_are_byte_compatible),
        case!(Suite::Kv, reverse::reverse_map_lookups_round_trip),
        case!(Suite::Kv, reverse::reverse_map_tenants_are_isolated),
        case!(Suite::Kv, reverse::reverse_map_lists_by_type_in_pages),
        case!(Suite::Kv, reverse::reverse_map_delete_and_rename),
        case!(Suite::Kv, reverse::reverse_map_repair_restores_consistency),
        case!(Suite::Kv, reverse::reverse_map_store_batch_writes_whole_mappings),
        case!(Suite::Kv, reverse::reverse_map_statements_commit_with_the_transaction),
    ]
}

/// The store under test.
pub(crate) async fn store(ctx: &Ctx) -> Result<Kv> {
    let kind = ctx.kv.context("a KV case ran without a KV backend")?;
    ctx.env.kv(kind, &ctx.scratch, &ctx.guards).await
}

/// A tenant of this test only: `{scratch}{suffix}`.
pub(crate) fn tenant(ctx: &Ctx, suffix: &str) -> Result<TenantId> {
    Ok(TenantId::new(format!("{}{suffix}", ctx.scratch))?)
}

/// The store and one fresh tenant of it.
pub(crate) async fn tenant_store(ctx: &Ctx) -> Result<TenantKv> {
    let kv = store(ctx).await?;
    Ok(kv.tenant(&tenant(ctx, "")?))
}
