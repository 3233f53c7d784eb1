//! The OpenAPI 3.1 description of the proxy, built from the same route table the router
//! serves. `docs/openapi.json` is this document; a test fails when they differ
//! (regenerate with `p8fs serve --print-openapi > docs/openapi.json`).

use serde_json::{Value, json};

/// One documented operation.
struct Op {
    method: &'static str,
    path: String,
    summary: &'static str,
    body: Option<Value>,
    ok: (&'static str, Value),
    params: &'static [(&'static str, &'static str, &'static str)],
}

/// The `key` of the `k/{key}` routes.
const B64URL_KEY: &str =
    "the key's UTF-8 as base64url without padding (one segment: no URL normalisation can change it)";

/// Routes that need no token.
const PUBLIC: [&str; 2] = ["/healthz", "/readyz"];

fn s(t: &str) -> Value {
    json!({ "type": t })
}

fn obj(props: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": props, "required": required })
}

fn b64() -> Value {
    json!({ "type": "string", "contentEncoding": "base64" })
}

fn ops() -> Vec<Op> {
    let entry = obj(json!({"key": s("string"), "value": b64()}), &["key", "value"]);
    let legacy_entry = obj(json!({"key": s("string"), "value": s("string")}), &["key", "value"]);
    let keys = obj(json!({"keys": {"type": "array", "items": s("string")}}), &["keys"]);
    let ttl_ms = json!({"type": "integer", "minimum": 0, "description": "time to live in ms; 0 or absent: none"});
    let mut v = vec![
        Op {
            method: "get",
            path: "/kv/{key}".into(),
            summary: "Legacy: read {tenant}/{key} (or a global key); 404 when missing",
            body: None,
            ok: ("200", obj(json!({"value": s("string")}), &["value"])),
            params: &[("key", "path", "physical key; may contain '/'")],
        },
        Op {
            method: "delete",
            path: "/kv/{key}".into(),
            summary: "Legacy: delete; 200 also when the key is missing",
            body: None,
            ok: ("200", obj(json!({"deleted": s("boolean")}), &[])),
            params: &[("key", "path", "physical key")],
        },
        Op {
            method: "put",
            path: "/kv".into(),
            summary: "Legacy: write {tenant}/{key}; value is JSON text; ttl in seconds, 0 = none",
            body: Some(obj(
                json!({"key": s("string"), "value": s("string"), "ttl": {"type": "integer", "minimum": 0}}),
                &["key", "value"],
            )),
            ok: ("200", obj(json!({"ok": s("boolean")}), &[])),
            params: &[],
        },
        Op {
            method: "get",
            path: "/kv/scan".into(),
            summary: "Legacy: keys starting with prefix ({tenant}/{prefix}), sorted; fewer than limit when the answer limit in bytes is reached",
            body: None,
            ok: ("200", json!({"type": "array", "items": legacy_entry.clone()})),
            params: &[("prefix", "query", "{tenant}/{prefix}"), ("limit", "query", "default 100")],
        },
        Op {
            method: "post",
            path: "/kv/batch".into(),
            summary: "Legacy: read several physical keys, in the order asked; missing ones omitted; 413 when the values exceed the answer limit",
            body: Some(keys.clone()),
            ok: ("200", json!({"type": "array", "items": legacy_entry})),
            params: &[],
        },
        Op {
            method: "get",
            path: "/v1/capability".into(),
            summary: "What the backend supports, with the proxy's limits applied (needs a token when the proxy has tokens)",
            body: None,
            ok: ("200", s("object")),
            params: &[],
        },
        Op {
            method: "get",
            path: "/healthz".into(),
            summary: "The process is up",
            body: None,
            ok: ("200", s("object")),
            params: &[],
        },
        Op {
            method: "get",
            path: "/readyz".into(),
            summary: "The backend answers (503 otherwise)",
            body: None,
            ok: ("200", s("object")),
            params: &[],
        },
        Op {
            method: "get",
            path: "/metrics".into(),
            summary: "Prometheus text exposition (needs a token granted `*` when the proxy has tokens)",
            body: None,
            ok: ("200", s("string")),
            params: &[],
        },
    ];
    for prefix in ["/v1/kv/{tenant}", "/v1/global"] {
        let tenant: &'static [(&str, &str, &str)] =
            if prefix.contains("{tenant}") { &[("tenant", "path", "tenant id")] } else { &[] };
        let with_key: &'static [(&str, &str, &str)] = if prefix.contains("{tenant}") {
            &[("tenant", "path", "tenant id"), ("key", "path", "logical key, percent-encoded")]
        } else {
            &[("key", "path", "logical key, percent-encoded")]
        };
        let with_b64_key: &'static [(&str, &str, &str)] = if prefix.contains("{tenant}") {
            &[("tenant", "path", "tenant id"), ("key", "path", B64URL_KEY)]
        } else {
            &[("key", "path", B64URL_KEY)]
        };
        v.push(Op {
            method: "get",
            path: (format!("{prefix}/k/{{key}}")),
            summary: "Read a key named by one base64url segment (404 when missing); what HttpStore uses",
            body: None,
            ok: ("200", entry.clone()),
            params: with_b64_key,
        });
        v.push(Op {
            method: "put",
            path: (format!("{prefix}/k/{{key}}")),
            summary: "Write a key named by one base64url segment",
            body: Some(obj(json!({"value": b64(), "ttl_ms": ttl_ms.clone()}), &["value"])),
            ok: ("204", Value::Null),
            params: with_b64_key,
        });
        v.push(Op {
            method: "delete",
            path: (format!("{prefix}/k/{{key}}")),
            summary: "Delete a key named by one base64url segment (204 also when missing)",
            body: None,
            ok: ("204", Value::Null),
            params: with_b64_key,
        });
        v.push(Op {
            method: "get",
            path: (format!("{prefix}/keys/{{key}}")),
            summary: "Read a key (404 when missing)",
            body: None,
            ok: ("200", entry.clone()),
            params: with_key,
        });
        v.push(Op {
            method: "put",
            path: (format!("{prefix}/keys/{{key}}")),
            summary: "Write a key",
            body: Some(obj(json!({"value": b64(), "ttl_ms": ttl_ms.clone()}), &["value"])),
            ok: ("204", Value::Null),
            params: with_key,
        });
        v.push(Op {
            method: "delete",
            path: (format!("{prefix}/keys/{{key}}")),
            summary: "Delete a key (204 also when missing)",
            body: None,
            ok: ("204", Value::Null),
            params: with_key,
        });
        v.push(Op {
            method: "post",
            path: (format!("{prefix}/batch/get")),
            summary: "Read several keys, in the order asked; missing ones omitted; 413 response_too_large when the values exceed the answer limit",
            body: Some(keys.clone()),
            ok: ("200", obj(json!({"entries": {"type": "array", "items": entry.clone()}}), &["entries"])),
            params: tenant,
        });
        v.push(Op {
            method: "post",
            path: (format!("{prefix}/batch/put")),
            summary: "Write several keys (atomic where the backend is)",
            body: Some(obj(
                json!({"entries": {"type": "array", "items": entry.clone()}, "ttl_ms": ttl_ms.clone()}),
                &["entries"],
            )),
            ok: ("200", obj(json!({"written": s("integer")}), &[])),
            params: tenant,
        });
        v.push(Op {
            method: "post",
            path: (format!("{prefix}/batch/delete")),
            summary: "Delete several keys",
            body: Some(keys.clone()),
            ok: ("200", obj(json!({"deleted": s("integer")}), &[])),
            params: tenant,
        });
        v.push(Op { method: "post", path: (format!("{prefix}/cas")), summary: "Compare and swap; 409 condition_not_met with the current value",
            body: Some(obj(json!({"key": s("string"), "expected": {"type": ["string", "null"], "contentEncoding": "base64"}, "value": b64(), "ttl_ms": ttl_ms.clone()}), &["key", "value"])),
            ok: ("200", obj(json!({"swapped": s("boolean")}), &[])), params: tenant });
        v.push(Op {
            method: "get",
            path: (format!("{prefix}/scan")),
            summary: "One page of keys by prefix or range: at most `limit` entries and about the answer limit in bytes (at least one entry); `next` continues",
            body: None,
            ok: (
                "200",
                obj(
                    json!({"entries": {"type": "array", "items": entry.clone()}, "next": {"type": ["string", "null"]}}),
                    &["entries", "next"],
                ),
            ),
            params: if prefix.contains("{tenant}") {
                &[
                    ("tenant", "path", "tenant id"),
                    ("prefix", "query", "key prefix"),
                    ("start", "query", "range start"),
                    ("end", "query", "range end (exclusive)"),
                    ("start_b64", "query", "range start as base64 bytes"),
                    ("end_b64", "query", "range end as base64 bytes"),
                    ("limit", "query", "default 100"),
                    ("after", "query", "continuation: the previous page's next"),
                ]
            } else {
                &[
                    ("prefix", "query", "key prefix"),
                    ("start", "query", "range start"),
                    ("end", "query", "range end (exclusive)"),
                    ("start_b64", "query", "range start as base64 bytes"),
                    ("end_b64", "query", "range end as base64 bytes"),
                    ("limit", "query", "default 100"),
                    ("after", "query", "continuation: the previous page's next"),
                ]
            },
        });
        v.push(Op {
            method: "post",
            path: (format!("{prefix}/delete-prefix")),
            summary: "Delete every key with a (non-empty) prefix",
            body: Some(obj(json!({"prefix": s("string")}), &["prefix"])),
            ok: ("200", obj(json!({"deleted": s("integer")}), &[])),
            params: tenant,
        });
    }
    v
}

/// The OpenAPI document (built once).
pub fn document() -> &'static Value {
    static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    DOC.get_or_init(build)
}

fn build() -> Value {
    let error = json!({
        "type": "object",
        "properties": {"error": {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "request_id": {"type": "string", "description": "on 5xx: the id of the proxy's log line with the details"}}, "required": ["code", "message"]}},
        "required": ["error"]
    });
    let mut paths = serde_json::Map::new();
    for op in ops() {
        let mut o = json!({
            "summary": op.summary,
            "parameters": op.params.iter().map(|(n, at, d)| json!({"name": n, "in": at, "required": *at == "path", "description": d, "schema": {"type": "string"}})).collect::<Vec<_>>(),
            "responses": {
                op.ok.0: if op.ok.1.is_null() { json!({"description": "done"}) } else { json!({"description": "ok", "content": {"application/json": {"schema": op.ok.1}}}) },
                "4XX": {"description": "bad request, unauthorized (401), forbidden (403: the token's tenants; without tokens, a host or origin that is not loopback), not found, limits exceeded (413), a body that is not application/json (415)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "5XX": {"description": "the backend failed (a generic message and `request_id`; the details are in the proxy's log), or the proxy is at its limit of requests (503 overloaded, Retry-After)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if let (Some(b), Some(map)) = (op.body, o.as_object_mut()) {
            map.insert("requestBody".into(), json!({"required": true, "content": {"application/json": {"schema": b}}}));
        }
        if let (true, Some(map)) = (PUBLIC.contains(&op.path.as_str()), o.as_object_mut()) {
            map.insert("security".into(), json!([]));
        }
        let entry = paths.entry(op.path).or_insert_with(|| json!({}));
        if let Some(m) = entry.as_object_mut() {
            m.insert(op.method.to_owned(), o);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "p8fs KV proxy", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Legacy routes (/kv...) speak the contract of the system p8fs replaces; /v1 is the full KV contract. With a token file every route but /healthz, /readyz and /openapi.json needs `Authorization: Bearer TOKEN`, checked before the body is read; without one, only requests for a loopback Host and from no or a loopback Origin are answered. JSON bodies must be sent as Content-Type: application/json."},
        "components": {"schemas": {"Error": error}, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": Value::Object(paths)
    })
}
