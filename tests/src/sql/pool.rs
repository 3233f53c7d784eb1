//! Pooled connections are reused: calls one after another run on the same server session,
//! so calls do not pay a new connection each (TCP, authentication, session settings, statements
//! prepared again). mysql_async closed every connection handed back to a pool whose
//! minimum is zero unless idle connections are given a time to live; this case caught it.

use std::collections::BTreeSet;

use anyhow::{Result, ensure};
use p8fs_sql_dialect::{DialectKind, SqlValue, Statement};

use crate::harness::Ctx;

const CALLS: usize = 60;
const MOST_SESSIONS: usize = 3;

pub(crate) async fn sequential_calls_reuse_one_pooled_connection(ctx: Ctx) -> Result<()> {
    let db = ctx.env.sql(&ctx.scratch).await?;
    // The session, and on the MySQL protocol the time zone p8fs sets when it opens a
    // connection (a reused connection must keep it: no reset drops it).
    let session = match db.dialect().kind() {
        DialectKind::Postgres => "SELECT pg_backend_pid()::bigint, CAST('+00:00' AS text)",
        DialectKind::MariaDb | DialectKind::Tidb => "SELECT CONNECTION_ID(), CAST(@@session.time_zone AS CHAR)",
        other => anyhow::bail!("no SQL server for this case ({other:?})"),
    };
    let session = Statement::raw(session);
    let mut seen = BTreeSet::new();
    for call in 0..CALLS {
        let rows = db.query(&session).await?;
        let (id, zone) = match rows.first().map(Vec::as_slice) {
            Some([SqlValue::Int(i), zone]) => (*i, zone.clone().into_text()?),
            other => anyhow::bail!("the session id and time zone came back as {other:?}"),
        };
        ensure!(zone == "+00:00", "call {call} ran in session {id} with time zone {zone:?}");
        seen.insert(id);
    }
    // mysql_async takes a connection back on its own task, so a call right after another
    // may find none idle yet and open one more: a few sessions, never one per call.
    ensure!(
        seen.len() <= MOST_SESSIONS,
        "{CALLS} calls one after another ran on {} server sessions: {seen:?}",
        seen.len()
    );
    Ok(())
}
