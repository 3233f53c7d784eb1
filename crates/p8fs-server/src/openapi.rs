//! The OpenAPI 3.1 document of the proxy, generated with utoipa from the route table the
//! router serves (`routes::table`) and from the wire types of [`p8fs_kv::wire`] and
//! [`crate::wire`].
//!
//! `docs/openapi.json` is this document; a test fails when they differ (regenerate with
//! `p8fs serve --print-openapi > docs/openapi.json`), and another when a route the router
//! serves is missing from it.
//!
//! What the handlers' annotations cannot say is added here, for every operation alike:
//! the error answers every route may give (the guard, the limits and the timeout apply to
//! all), `security: []` on the routes no guard covers, `deprecated` on the legacy routes,
//! the `{tenant}` parameter and distinct operation ids of the `/v1` routes that are
//! served for a tenant and for the global namespace, and OpenAPI's `{key}` for axum's
//! catch-all `{*key}`.

use std::sync::OnceLock;

use p8fs_kv::wire::ErrorAnswer;
use utoipa::OpenApi as _;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Deprecated, OpenApi, Ref, RefOr, Required, ResponseBuilder};

use crate::guard::{BEARER, Guards, operations};
use crate::{legacy, routes, v1};

/// What the document says before its paths.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "p8fs proxy",
        description = "Legacy routes (/kv...) speak the contract of the system p8fs replaces (deprecated: new clients use /v1); /v1/kv and /v1/global are the full KV contract; /v1/entities and /v1/rem (entities, semantic search, graph edges, REM queries) are served only when the proxy has a SQL provider, and answer 404 no_route otherwise. With a token file every route but /healthz, /readyz and /openapi.json needs `Authorization: Bearer TOKEN`, checked before the body is read; without one, only requests for a loopback Host and from no or a loopback Origin are answered. JSON bodies must be sent as Content-Type: application/json. Every error answers the Error body."
    ),
    components(schemas(ErrorAnswer)),
    tags(
        (name = "v1", description = "The full KV contract: binary values (base64), batches, compare-and-swap, paged scans"),
        (name = "legacy", description = "The wire contract of the system p8fs replaces, byte-compatible (deprecated)"),
        (name = "entities", description = "Entities (stored with their embeddings and reverse mappings; read by id, name or storage key; selected with the filter grammar; deleted), semantic search and graph edges. Served only when the proxy has a SQL provider (p8fs serve --sql URL or P8FS_STORAGE_PROVIDER); otherwise these paths answer 404 no_route. An unknown entity type answers 400."),
        (name = "rem", description = "REM queries (LOOKUP, GET, SEARCH, FUZZY, SELECT, TRAVERSE). Served only when the proxy has a SQL provider; otherwise 404 no_route."),
        (name = "operations", description = "Health, readiness, metrics and this document"),
    )
)]
struct Base;

/// The OpenAPI document (built once).
pub fn document() -> &'static OpenApi {
    static DOC: OnceLock<OpenApi> = OnceLock::new();
    DOC.get_or_init(build)
}

fn build() -> OpenApi {
    let mut doc = Base::openapi();
    doc.merge(routes::table(&Guards::DocumentOnly, true).into_openapi());
    let components = doc.components.get_or_insert_with(Default::default);
    components
        .add_security_scheme(BEARER, SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    doc.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
    let paths = std::mem::take(&mut doc.paths.paths);
    for (path, mut item) in paths {
        // axum's catch-all `{*key}` is OpenAPI's `{key}` (whose value may hold '/').
        let path = path.replace("{*", "{");
        if path.starts_with(v1::TENANT_PREFIX) {
            let tenant = ParameterBuilder::new()
                .name("tenant")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some("the tenant id"))
                .schema(Some(utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::schema::Type::String)))
                .build();
            item.parameters.get_or_insert_with(Vec::new).insert(0, RefOr::T(tenant));
        }
        let global = path.starts_with(v1::GLOBAL_PREFIX);
        for op in operations(&mut item) {
            if global {
                op.operation_id = op.operation_id.take().map(|id| format!("global_{id}"));
            }
            if op.tags.iter().flatten().any(|t| t == legacy::TAG) {
                op.deprecated = Some(Deprecated::True);
            }
            // Only the guard marks an operation as needing the token.
            op.security.get_or_insert_with(Vec::new);
            add_errors(op);
        }
        doc.paths.paths.insert(path, item);
    }
    doc
}

/// The error answers of every route.
fn add_errors(op: &mut Operation) {
    let error = || ContentBuilder::new().schema(Some(Ref::from_schema_name("Error"))).build();
    let client = ResponseBuilder::new()
        .description(
            "bad request, unauthorized (401), forbidden (403: the token's tenants; without tokens, a host or origin that is not loopback), not found, limits exceeded (413), a body that is not application/json (415)",
        )
        .content("application/json", error())
        .build();
    let server = ResponseBuilder::new()
        .description(
            "the backend failed (a generic message and `request_id`; the details are in the proxy's log), or the proxy is at its limit of requests (503 overloaded, Retry-After)",
        )
        .content("application/json", error())
        .build();
    op.responses.responses.entry("4XX".to_owned()).or_insert(RefOr::T(client));
    op.responses.responses.entry("5XX".to_owned()).or_insert(RefOr::T(server));
}
