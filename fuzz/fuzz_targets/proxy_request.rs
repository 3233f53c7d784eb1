//! The proxy's request handling on arbitrary requests: the router with the entity routes
//! over a real `P8fs` (SQLite, the embedded KV store, the lexical embedder) and tokens for
//! two tenants, fed a method, a token, a route prefix, a path and query, headers and a
//! body. Nothing panics; no request gets a 5xx (nothing here can be unavailable); every
//! error answer is the JSON error body; and a request without bob's or the admin's token
//! never reads bob's data, which holds a marker made at random when the process starts.
//!
//! Unlike the other targets it has its own `main`: `numkong` (the SQLite vector index's
//! distance kernels) links the CPU probes its build script compiles, and one of them
//! defines `main`, which the linker picks instead of libFuzzer's when the binary has none.
//! This `main` hands the arguments to libFuzzer's driver.

use std::ffi::{CString, c_char, c_int};
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use libfuzzer_sys::fuzz_target;
use p8fs_core::{EmbedderSettings, P8fs, Settings};
use p8fs_server::auth::TokenSet;
use p8fs_server::{Metrics, ServerConfig};
use tower::ServiceExt;

const ALICE: &str = "alice-token-0123456789";
const BOB: &str = "bob-token-0123456789";
const ROOT: &str = "root-token-0123456789";

/// Routes to steer the fuzzer toward; its own bytes follow.
const PREFIXES: &[&str] = &[
    "/v1/kv/alice/keys/",
    "/v1/kv/alice/k/",
    "/v1/kv/alice/scan?",
    "/v1/kv/alice/batch/get",
    "/v1/kv/alice/batch/put",
    "/v1/kv/alice/batch/delete",
    "/v1/kv/alice/cas",
    "/v1/kv/alice/delete-prefix",
    "/v1/kv/bob/keys/",
    "/v1/kv/bob/scan?",
    "/v1/global/keys/",
    "/kv/",
    "/kv/scan?",
    "/kv/batch",
    "/kv",
    "/v1/entities/alice/resources",
    "/v1/entities/alice/resources/batch",
    "/v1/entities/alice/resources/select",
    "/v1/entities/alice/resources/search",
    "/v1/entities/alice/resources/name/",
    "/v1/entities/alice/resources/id/",
    "/v1/entities/bob/resources/name/",
    "/v1/entities/alice/storage-key?",
    "/v1/rem/alice",
    "/v1/rem/bob",
    "/readyz",
    "/metrics",
    "/",
];

struct Env {
    rt: tokio::runtime::Runtime,
    router: Router,
    /// The marker as entities answer it, and as the KV routes answer it (base64).
    markers: [String; 2],
    _dir: tempfile::TempDir,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let dir = tempfile::tempdir().expect("temporary directory");
        let marker = format!("bob-marker-{}", uuid::Uuid::new_v4().simple());
        let router = rt.block_on(async {
            let mut settings = Settings::embedded(dir.path());
            settings.embedder = EmbedderSettings::Lexical { dim: 384 };
            let p8fs = P8fs::open(&settings).await.expect("p8fs");
            p8fs.migrate().await.expect("migrate");
            let tokens = format!("{ALICE} alice\n{BOB} bob\n{ROOT} *\n");
            let cfg =
                ServerConfig { tokens: Some(TokenSet::parse(&tokens).expect("tokens")), ..ServerConfig::default() };
            let router = p8fs_server::router_with_entities(Arc::new(p8fs), cfg, Arc::new(Metrics::default()));
            // Bob's data: a KV key and an entity holding the marker.
            for (method, uri, body) in [
                (
                    "PUT",
                    "/v1/kv/bob/keys/secret".to_owned(),
                    serde_json::json!({"value": B64.encode(&marker)}).to_string(),
                ),
                (
                    "PUT",
                    "/v1/entities/bob/resources".to_owned(),
                    serde_json::json!({"name": "secret", "data": {"content": marker}}).to_string(),
                ),
            ] {
                let req = Request::builder()
                    .method(method)
                    .uri(uri)
                    .header(header::HOST, "localhost")
                    .header(header::AUTHORIZATION, format!("Bearer {BOB}"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body))
                    .expect("request");
                let resp = router.clone().oneshot(req).await.expect("answer");
                assert!(resp.status().is_success(), "seeding bob's data: {}", resp.status());
            }
            router
        });
        let encoded = B64.encode(&marker);
        Env { rt, router, markers: [marker, encoded], _dir: dir }
    })
}

fuzz_target!(|data: &[u8]| {
    let [m, t, p, rest @ ..] = data else { return };
    let e = env();
    let method = match m % 9 {
        0 => Method::GET,
        1 => Method::PUT,
        2 => Method::POST,
        3 => Method::DELETE,
        4 => Method::PATCH,
        5 => Method::HEAD,
        6 => Method::OPTIONS,
        7 => Method::from_bytes(b"FROB").expect("a method"),
        _ => Method::TRACE,
    };
    let token = match t % 4 {
        0 => None,
        1 => Some(ALICE),
        2 => Some(BOB),
        _ => Some(ROOT),
    };
    // The head (path, then header lines) up to the first NUL; the body after it.
    let (head, body) = match rest.iter().position(|b| *b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split('\n');
    let uri = format!("{}{}", PREFIXES[usize::from(*p) % PREFIXES.len()], lines.next().unwrap_or(""));
    let mut req = Request::builder().method(method.clone()).uri(uri.as_str()).header(header::HOST, "localhost");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let mut has_type = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name.trim().as_bytes()), HeaderValue::from_str(value.trim()))
        else {
            continue;
        };
        if name == header::AUTHORIZATION || name == header::HOST {
            continue;
        }
        has_type |= name == header::CONTENT_TYPE;
        req = req.header(name, value);
    }
    if !has_type {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let Ok(req) = req.body(Body::from(body.to_vec())) else { return };
    let (status, bytes) = e.rt.block_on(async {
        let resp = e.router.clone().oneshot(req).await.expect("the router is infallible");
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20).await.expect("the answer's body");
        (status, bytes)
    });
    assert!(!status.is_server_error(), "{method} {uri}: {status}: {}", String::from_utf8_lossy(&bytes));
    if status.is_client_error() && method != Method::HEAD {
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!("{method} {uri}: {status} without a JSON body: {:?}", String::from_utf8_lossy(&bytes))
        });
        assert!(v.pointer("/error/code").and_then(|c| c.as_str()).is_some(), "{method} {uri}: {status}: {v}");
    }
    if !matches!(token, Some(BOB) | Some(ROOT)) {
        // A marker the request itself carries (an error naming the path it was sent, as sent
        // or percent-decoded) is the caller's own text echoed, not bob's data read.
        let decoded: Vec<u8> = percent_encoding::percent_decode(rest).collect();
        for marker in e.markers.iter().filter(|m| !holds(rest, m.as_bytes()) && !holds(&decoded, m.as_bytes())) {
            assert!(
                !holds(&bytes, marker.as_bytes()),
                "{method} {uri} with {token:?} read bob's data: {status} {}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
});

/// Whether `hay` holds `needle`, found by a rolling hash: the needle's bytes are compared
/// only where the hash matches. A plain substring search compares them everywhere, and
/// libFuzzer learns what its inputs are compared with (it put bob's marker in a dictionary,
/// then in alice's requests and data, and this oracle took alice's own text for a leak).
fn holds(hay: &[u8], needle: &[u8]) -> bool {
    const B: u64 = 1_099_511_628_211;
    let n = needle.len();
    if n == 0 || hay.len() < n {
        return n == 0;
    }
    let hash = |s: &[u8]| s.iter().fold(0u64, |h, &c| h.wrapping_mul(B).wrapping_add(u64::from(c)));
    let target = hash(needle);
    let top = (1..n).fold(1u64, |p, _| p.wrapping_mul(B));
    let mut h = hash(&hay[..n]);
    for i in 0..=hay.len() - n {
        if i > 0 {
            h = h
                .wrapping_sub(u64::from(hay[i - 1]).wrapping_mul(top))
                .wrapping_mul(B)
                .wrapping_add(u64::from(hay[i + n - 1]));
        }
        if h == target && &hay[i..i + n] == needle {
            return true;
        }
    }
    false
}

unsafe extern "C" {
    /// libFuzzer's driver (the `main` of a `no_main` target calls it the same way).
    fn LLVMFuzzerRunDriver(
        argc: *mut c_int,
        argv: *mut *mut *mut c_char,
        callback: unsafe extern "C" fn(*const u8, usize) -> c_int,
    ) -> c_int;
    /// Defined by `fuzz_target!` (through libfuzzer-sys): runs the body above on one input.
    fn LLVMFuzzerTestOneInput(data: *const u8, size: usize) -> c_int;
}

fn main() {
    let args: Vec<CString> =
        std::env::args_os().map(|a| CString::new(a.into_encoded_bytes()).expect("arguments hold no NUL")).collect();
    let mut ptrs: Vec<*mut c_char> = args.iter().map(|a| a.as_ptr().cast_mut()).collect();
    ptrs.push(std::ptr::null_mut());
    let mut argc = c_int::try_from(args.len()).expect("a sane number of arguments");
    let mut argv = ptrs.as_mut_ptr();
    // SAFETY: argc/argv describe NUL-terminated strings that outlive the call, with a
    // null pointer after the last, as C's main receives them; the callback is libFuzzer's
    // own entry point for this target.
    let status = unsafe { LLVMFuzzerRunDriver(&mut argc, &mut argv, LLVMFuzzerTestOneInput) };
    std::process::exit(status);
}
