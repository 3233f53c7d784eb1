//! The route table: every route the proxy serves, each with its OpenAPI operation. The
//! router ([`crate::router`]) and the document ([`crate::openapi::document`]) are both built
//! from [`table`], so a route cannot be served without being documented.

use utoipa_axum::router::OpenApiRouter;

use crate::guard::Guards;
use crate::state::AppState;
use crate::{legacy, ops, v1};

/// Every route, behind `guards`.
pub(crate) fn table(guards: &Guards) -> OpenApiRouter<AppState> {
    OpenApiRouter::new().merge(legacy::routes(guards)).merge(v1::routes(guards)).merge(ops::routes(guards))
}
