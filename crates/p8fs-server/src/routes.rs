//! The route table: every route the proxy serves, each with its OpenAPI operation. The
//! router ([`crate::router`]) and the document ([`crate::openapi::document`]) are both built
//! from [`table`], so a route cannot be served without being documented. The document is
//! built with every route; a proxy without a SQL provider serves all but the entity and
//! REM routes ([`crate::entities`]).

use utoipa_axum::router::OpenApiRouter;

use crate::guard::Guards;
use crate::state::AppState;
use crate::{entities, legacy, ops, v1};

/// Every route, behind `guards`; the entity and REM routes only `with_entities`.
pub(crate) fn table(guards: &Guards, with_entities: bool) -> OpenApiRouter<AppState> {
    let kv = OpenApiRouter::new().merge(legacy::routes(guards)).merge(v1::routes(guards)).merge(ops::routes(guards));
    if with_entities { kv.merge(entities::routes(guards)) } else { kv }
}
