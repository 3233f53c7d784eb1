//! The routes the router serves against the OpenAPI document, and the guards against
//! what the document says about them.
//!
//! The served routes are read from the router itself, not from the route table the
//! document is built from: a route added to the router any other way fails here. The
//! document lists every route; a proxy without a SQL provider serves all but the entity and
//! REM routes (tags `entities` and `rem`), one with a SQL provider serves them all.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use p8fs_kv::EmbeddedStore;
use p8fs_kv::wire::ErrorAnswer;
use p8fs_server::auth::TokenSet;
use p8fs_server::{Metrics, ServerConfig};
use serde_json::Value;
use tower::ServiceExt;

/// Every method a route could be served for. (axum answers HEAD wherever it serves GET;
/// OpenAPI documents that with the GET.)
const METHODS: [Method; 6] = [Method::GET, Method::PUT, Method::POST, Method::DELETE, Method::PATCH, Method::OPTIONS];

const TOKENS: &str = "alice-token-0123456789 alice\nroot-token-0123456789 *\n";

fn router(dir: &tempfile::TempDir, tokens: bool) -> Router {
    let backend = Arc::new(EmbeddedStore::open(dir.path().join("kv.redb")).unwrap());
    let cfg = ServerConfig { tokens: tokens.then(|| TokenSet::parse(TOKENS).unwrap()), ..ServerConfig::default() };
    p8fs_server::router(backend, cfg, Arc::new(Metrics::default()))
}

/// The router of a proxy with a SQL provider (embedded SQLite and KV under `dir`).
async fn sql_router(dir: &tempfile::TempDir, tokens: bool) -> Router {
    let p8fs = p8fs_core::P8fs::open(&p8fs_core::Settings::embedded(dir.path())).await.unwrap();
    p8fs.migrate().await.unwrap();
    let cfg = ServerConfig { tokens: tokens.then(|| TokenSet::parse(TOKENS).unwrap()), ..ServerConfig::default() };
    p8fs_server::router_with_entities(Arc::new(p8fs), cfg, Arc::new(Metrics::default()))
}

/// Whether a documented path is an entity or REM route (served only with a SQL provider);
/// the document says so in the operations' tags.
fn needs_sql(path: &str) -> bool {
    let doc = document();
    let item = doc["paths"][path].as_object().unwrap();
    let tagged = |t: &str| item.values().any(|op| op["tags"].as_array().is_some_and(|ts| ts.iter().any(|x| x == t)));
    let sql = tagged("entities") || tagged("rem");
    assert_eq!(sql, path.starts_with("/v1/entities/") || path.starts_with("/v1/rem/"), "{path}");
    sql
}

fn document() -> Value {
    serde_json::to_value(p8fs_server::openapi::document()).unwrap()
}

/// The documented methods of each documented path.
fn documented() -> BTreeMap<String, BTreeSet<String>> {
    let doc = document();
    let paths = doc["paths"].as_object().unwrap();
    paths
        .iter()
        .map(|(p, item)| {
            let methods = METHODS
                .iter()
                .chain([&Method::HEAD, &Method::TRACE])
                .map(|m| m.as_str().to_ascii_lowercase())
                .filter(|m| item.get(m).is_some())
                .collect();
            (p.clone(), methods)
        })
        .collect()
}

/// The paths the router serves. axum has no API that lists them; its `Debug` output
/// names each as `RouteId(n): "/path"` (the fallback router's, after `fallback_router`,
/// are not routes). Paths are in OpenAPI's form (`{*key}` is `{key}`).
fn served_paths(router: &Router) -> BTreeSet<String> {
    let text = format!("{router:?}");
    let routes = &text[..text.find("fallback_router").unwrap_or(text.len())];
    let mut out = BTreeSet::new();
    for piece in routes.split("RouteId(").skip(1) {
        let Some((_, rest)) = piece.split_once("): \"") else { continue };
        let Some((path, _)) = rest.split_once('"') else { continue };
        if !path.contains("__private__") {
            out.insert(path.replace("{*", "{"));
        }
    }
    assert!(out.contains("/healthz") && out.len() > 10, "cannot read the routes from {text}");
    out
}

/// A concrete URI for a templated path.
fn uri(path: &str) -> String {
    // `aw` is base64url of "k": a valid key for every key route.
    path.replace("{tenant}", "alice")
        .replace("{key}", "aw")
        .replace("{type}", "resources")
        .replace("{id}", "x")
        .replace("{name}", "n")
}

async fn send(router: &Router, method: Method, uri: &str, token: Option<&str>) -> (StatusCode, String) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "localhost")
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let resp = router.clone().oneshot(req.body(Body::from("{}")).unwrap()).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20).await.unwrap();
    let code = serde_json::from_slice::<ErrorAnswer>(&bytes).map(|e| e.error.code).unwrap_or_default();
    (status, code)
}

/// Whether the router has a route for `method` on `uri` (whatever the route then answers).
async fn serves(router: &Router, method: Method, uri: &str) -> bool {
    let (_, code) = send(router, method, uri, None).await;
    code != "no_route" && code != "method_not_allowed"
}

#[tokio::test]
async fn every_served_route_is_documented_and_every_documented_route_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let sql_dir = tempfile::tempdir().unwrap();
    let documented = documented();
    for (with_sql, router) in [(false, router(&dir, false)), (true, sql_router(&sql_dir, false).await)] {
        let served = served_paths(&router);
        let doc_paths: BTreeSet<String> = documented.keys().filter(|p| with_sql || !needs_sql(p)).cloned().collect();
        let undocumented: Vec<_> = served.difference(&doc_paths).collect();
        assert!(undocumented.is_empty(), "sql {with_sql}: served but not in the OpenAPI document: {undocumented:?}");
        let unserved: Vec<_> = doc_paths.difference(&served).collect();
        assert!(unserved.is_empty(), "sql {with_sql}: in the OpenAPI document but not served: {unserved:?}");
        for (path, methods) in &documented {
            for m in METHODS {
                let is_served = serves(&router, m.clone(), &uri(path)).await;
                let is_documented =
                    methods.contains(&m.as_str().to_ascii_lowercase()) && (with_sql || !needs_sql(path));
                assert_eq!(
                    is_served, is_documented,
                    "sql {with_sql}: {m} {path}: served {is_served}, documented {is_documented}"
                );
            }
        }
        // The probe tells routes from missing ones.
        assert!(!serves(&router, Method::GET, "/v1/kv/alice/nothing-here").await);
        assert!(!serves(&router, Method::PATCH, "/healthz").await);
    }
    // Without a SQL provider, the entity and REM paths answer like any unknown path.
    let kv_only = router(&dir, false);
    for path in documented.keys().filter(|p| needs_sql(p)) {
        let (status, code) = send(&kv_only, Method::GET, &uri(path), None).await;
        assert_eq!((status, code.as_str()), (StatusCode::NOT_FOUND, "no_route"), "{path}");
    }
}

#[tokio::test]
async fn the_document_says_which_routes_need_a_token_as_the_guards_do() {
    let dir = tempfile::tempdir().unwrap();
    let router = sql_router(&dir, true).await;
    let doc = document();
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    let mut public = BTreeSet::new();
    for (path, methods) in documented() {
        for m in methods {
            let op = &doc["paths"][&path][&m];
            let method = Method::from_bytes(m.to_ascii_uppercase().as_bytes()).unwrap();
            let (status, _) = send(&router, method, &uri(&path), None).await;
            let needs_token = status == StatusCode::UNAUTHORIZED;
            let security = op["security"].as_array().unwrap_or_else(|| panic!("{m} {path} has no security"));
            let says_token = security.iter().any(|s| s.get("bearer").is_some());
            assert_eq!(
                needs_token, says_token,
                "{m} {path}: answers {status} without a token; documented {security:?}"
            );
            if !says_token {
                public.insert(path.clone());
            }
        }
    }
    let expected: BTreeSet<String> = ["/healthz", "/readyz", "/openapi.json"].map(String::from).into();
    assert_eq!(public, expected);
}

#[tokio::test]
async fn legacy_routes_are_documented_as_deprecated_and_v1_routes_are_not() {
    let doc = document();
    let mut legacy = 0;
    for (path, methods) in documented() {
        for m in methods {
            let op = &doc["paths"][&path][&m];
            let deprecated = op["deprecated"] == true;
            let is_legacy = path == "/kv" || path.starts_with("/kv/");
            assert_eq!(deprecated, is_legacy, "{m} {path}");
            legacy += usize::from(is_legacy);
            // Every operation names the errors it may answer, and has its own id.
            assert!(op["responses"]["4XX"].is_object() && op["responses"]["5XX"].is_object(), "{m} {path}");
            assert!(op["operationId"].is_string(), "{m} {path}");
        }
    }
    assert_eq!(legacy, 5, "GET/DELETE /kv/{{key}}, PUT /kv, GET /kv/scan, POST /kv/batch");
    let ids: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values().filter_map(|op| op["operationId"].as_str()))
        .collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "operation ids repeat: {ids:?}");
    assert!(doc["paths"]["/openapi.json"]["get"].is_object());
    // Path parameters are declared for every templated segment.
    let tenant = &doc["paths"]["/v1/kv/{tenant}/k/{key}"]["parameters"][0];
    assert_eq!((tenant["name"].as_str(), tenant["in"].as_str()), (Some("tenant"), Some("path")));
    assert!(doc["paths"]["/v1/global/k/{key}"]["parameters"].is_null());
}

/// The `/v1` store extractor: the tenant of the path against the token, before the body.
#[tokio::test]
async fn v1_routes_refuse_other_tenants_before_reading_the_body() {
    let dir = tempfile::tempdir().unwrap();
    let router = router(&dir, true);
    let alice = Some("alice-token-0123456789");
    let put = |uri: &str, token: Option<&'static str>, content_type: &'static str, body: &'static str| {
        let router = router.clone();
        let uri = uri.to_owned();
        async move {
            let mut req = Request::builder()
                .method(Method::PUT)
                .uri(uri)
                .header(header::HOST, "localhost")
                .header(header::CONTENT_TYPE, content_type);
            if let Some(t) = token {
                req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
            }
            let resp = router.oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
            let status = resp.status();
            let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
            (status, serde_json::from_slice::<ErrorAnswer>(&bytes).map(|e| e.error.code).unwrap_or_default())
        }
    };
    // A body that is neither JSON nor declared as such: whoever reads it answers 415.
    for (uri, code) in [
        ("/v1/kv/alicex/k/aw", "forbidden"),
        ("/v1/kv/alic/k/aw", "forbidden"),
        ("/v1/kv/bob/keys/alice/k", "forbidden"),
        ("/v1/global/k/aw", "forbidden"),
        ("/v1/kv/bad%20tenant/k/aw", "invalid_key"),
    ] {
        let (status, got) = put(uri, alice, "text/plain", "not json").await;
        assert_eq!(got, code, "{uri}: {status}");
        assert!(status == StatusCode::FORBIDDEN || status == StatusCode::BAD_REQUEST, "{uri}: {status}");
    }
    // No token: 401 before anything else.
    assert_eq!(put("/v1/kv/bob/k/aw", None, "text/plain", "x").await.0, StatusCode::UNAUTHORIZED);
    // Alice's own tenant reaches the body.
    let (status, code) = put("/v1/kv/alice/k/aw", alice, "text/plain", "x").await;
    assert_eq!((status, code.as_str()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"));
    let (status, _) = put("/v1/kv/alice/k/aw", alice, "application/json", r#"{"value": "dg=="}"#).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}
