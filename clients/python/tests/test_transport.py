"""Retries, timeouts, error bodies and path encoding, against little local servers
(``http.server``): no p8fs server needed."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest

from p8fs_client import (
    ConditionNotMet,
    Conflict,
    InvalidInput,
    NotFound,
    P8fsClient,
    P8fsError,
    PermissionDenied,
    Timeout,
    Unavailable,
)
from p8fs_client._http import segment

Reply = Tuple[int, Dict[str, str], Any]


class Scripted:
    """A server answering each request with the next reply of a script (the last one
    repeats), recording what it received."""

    def __init__(self, replies: List[Reply]) -> None:
        self.replies = replies
        self.requests: List[Dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                outer.requests.append({"method": self.command, "path": self.path,
                                       "headers": dict(self.headers), "body": body})
                status, headers, payload = outer.replies[min(len(outer.requests), len(outer.replies)) - 1]
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = _serve

            def log_message(self, *a: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def scripted() -> Iterator[Callable[[List[Reply]], Scripted]]:
    made: List[Scripted] = []

    def make(replies: List[Reply]) -> Scripted:
        s = Scripted(replies)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


UNAVAILABLE: Reply = (503, {"Retry-After": "0"}, {"error": {"code": "overloaded", "message": "busy"}})


def fast(url: str, **kw: Any) -> P8fsClient:
    return P8fsClient(url, token="t", timeout=kw.pop("timeout", 5.0), backoff=0.01, trust_env=False, **kw)


def test_a_get_is_retried_after_two_503_and_succeeds(scripted: Any) -> None:
    s = scripted([UNAVAILABLE, UNAVAILABLE, (200, {}, {"key": "k", "value": "aGk="})])
    assert fast(s.url).kv("t1").get("k") == b"hi"
    assert len(s.requests) == 3
    assert all(r["method"] == "GET" for r in s.requests)


def test_a_read_post_is_retried(scripted: Any) -> None:
    s = scripted([UNAVAILABLE, UNAVAILABLE, (200, {}, {"kind": "lookup", "query": {}, "results": []})])
    assert fast(s.url).rem("LOOKUP x", "t1")["results"] == []
    assert len(s.requests) == 3


def test_a_non_idempotent_post_is_not_retried(scripted: Any) -> None:
    s = scripted([UNAVAILABLE, (200, {}, {"stored": []})])
    with pytest.raises(Unavailable) as e:
        fast(s.url).store_entities("resources", "t1", [("n", {"content": "x"})])
    assert e.value.status == 503 and e.value.code == "overloaded"
    assert len(s.requests) == 1
    s2 = scripted([UNAVAILABLE, (200, {}, {"swapped": True})])
    with pytest.raises(Unavailable):
        fast(s2.url).kv("t1").compare_and_swap("k", None, b"v")
    assert len(s2.requests) == 1
    s3 = scripted([UNAVAILABLE, (200, {}, {"added": 1, "updated": 0, "removed": 0, "edges": []})])
    with pytest.raises(Unavailable):
        fast(s3.url).add_edges("resources", "id1", [{"dst": "a", "rel_type": "r"}], "t1")
    assert len(s3.requests) == 1


def test_retries_stop_after_the_configured_number(scripted: Any) -> None:
    s = scripted([UNAVAILABLE])
    with pytest.raises(Unavailable):
        fast(s.url, retries=2).kv("t1").get("k")
    assert len(s.requests) == 3


def test_a_4xx_or_500_is_not_retried(scripted: Any) -> None:
    s = scripted([(500, {}, {"error": {"code": "backend_error", "message": "m", "request_id": "r1"}})])
    with pytest.raises(P8fsError) as e:
        fast(s.url).kv("t1").get("k")
    assert e.value.status == 500 and e.value.request_id == "r1"
    assert len(s.requests) == 1
    s2 = scripted([(400, {}, {"error": {"code": "invalid_key", "message": "bad"}})])
    with pytest.raises(InvalidInput):
        fast(s2.url).kv("t1").get("k")
    assert len(s2.requests) == 1


def test_retry_after_is_honoured(scripted: Any) -> None:
    s = scripted([(503, {"Retry-After": "1"}, {"error": {"code": "overloaded", "message": "m"}}),
                  (200, {}, {"key": "k", "value": ""})])
    t = time.monotonic()
    assert fast(s.url).kv("t1").get("k") == b""
    assert time.monotonic() - t >= 0.9
    assert len(s.requests) == 2


def test_a_retry_after_longer_than_the_client_waits_ends_the_retries(scripted: Any) -> None:
    s = scripted([(503, {"Retry-After": "3600"}, {"error": {"code": "overloaded", "message": "m"}})])
    t = time.monotonic()
    with pytest.raises(Unavailable):
        fast(s.url).kv("t1").get("k")
    assert time.monotonic() - t < 5
    assert len(s.requests) == 1


def test_connection_refused_is_unavailable_and_retried_for_reads() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    sleeps: List[float] = []
    c = P8fsClient(f"http://127.0.0.1:{port}", timeout=2.0, retries=2, backoff=0.01, trust_env=False)
    c._t._sleep = sleeps.append  # count the pauses instead of sleeping
    with pytest.raises(Unavailable) as e:
        c.kv("t1").get("k")
    assert e.value.status is None
    assert len(sleeps) == 2


def test_a_server_that_never_answers_times_out_within_the_timeout() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections (the kernel does) and never answers
    try:
        port = listener.getsockname()[1]
        c = P8fsClient(f"http://127.0.0.1:{port}", timeout=0.5, retries=3, backoff=0.01, trust_env=False)
        t = time.monotonic()
        with pytest.raises(Timeout):
            c.kv("t1").get("k")
        took = time.monotonic() - t
        # One attempt: a timeout is not retried (the server may still act on the request).
        assert took < 2.0, took
    finally:
        listener.close()


def test_error_bodies_pick_the_exception_and_keep_code_and_message(scripted: Any) -> None:
    cases = [
        (401, {"error": {"code": "unauthorized", "message": "no token"}}, PermissionDenied),
        (403, {"error": {"code": "forbidden", "message": "other tenant"}}, PermissionDenied),
        (404, {"error": {"code": "no_route", "message": "no route"}}, NotFound),
        (409, {"error": {"code": "binary_value", "message": "binary"}}, Conflict),
        (413, {"error": {"code": "too_large", "message": "big"}}, InvalidInput),
        (422, {"error": "short form", "code": "bad"}, InvalidInput),
        (418, b"<html>teapot</html>", InvalidInput),
    ]
    for status, body, cls in cases:
        s = scripted([(status, {}, body)])
        with pytest.raises(cls) as e:
            fast(s.url).capability()
        assert e.value.status == status
        assert e.value.message, (status, e.value)
    s = scripted([(422, {}, {"error": "short form", "code": "bad"})])
    with pytest.raises(InvalidInput) as e:
        fast(s.url).capability()
    assert e.value.message == "short form" and e.value.code == "bad"


def test_a_failed_cas_carries_the_current_value(scripted: Any) -> None:
    s = scripted([(409, {}, {"error": {"code": "condition_not_met", "message": "m", "current": "bm93"}})])
    with pytest.raises(ConditionNotMet) as e:
        fast(s.url).kv("t1").compare_and_swap("k", b"old", b"new")
    assert e.value.current == b"now"
    body = json.loads(s.requests[0]["body"])
    assert body == {"key": "k", "expected": "b2xk", "value": "bmV3"}


def test_a_missing_key_is_none_but_a_missing_route_raises(scripted: Any) -> None:
    s = scripted([(404, {}, {"error": {"code": "not_found", "message": "no key"}})])
    assert fast(s.url).kv("t1").get("k") is None
    assert fast(s.url).get_entity_by_name("n", "resources", "t1") is None
    assert fast(s.url).get_entity("resources", "id1", "t1") is None
    assert fast(s.url).get_entities_by_storage_key("resources/id1", "t1") == []
    assert fast(s.url).legacy.get("k", "t1") is None
    s2 = scripted([(404, {}, {"error": {"code": "no_route", "message": "no route"}})])
    with pytest.raises(NotFound):
        fast(s2.url).get_entity_by_name("n", "resources", "t1")
    with pytest.raises(NotFound):
        fast(s2.url).kv("t1").get("k")
    with pytest.raises(NotFound):
        fast(s2.url).edges("resources", "id1", "t1")


def test_redirects_are_not_followed(scripted: Any) -> None:
    target = scripted([(200, {}, {"key": "k", "value": ""})])
    s = scripted([(307, {"Location": target.url + "/steal"}, b"")])
    with pytest.raises(P8fsError) as e:
        fast(s.url).kv("t1").get("k")
    assert e.value.status == 307
    assert target.requests == []  # the token never went there


def test_path_segments_are_percent_encoded(scripted: Any) -> None:
    s = scripted([(200, {}, {"entity": {"id": "1"}})])
    c = fast(s.url)
    for name in ["a/b", "with space", "100%", "ünï©ødé", "..", ".", "q?x#y", "../../kv/other"]:
        c.get_entity_by_name(name, "resources", "tenant.a")
    paths = [r["path"] for r in s.requests]
    assert paths == [
        "/v1/entities/tenant.a/resources/name/a%2Fb",
        "/v1/entities/tenant.a/resources/name/with%20space",
        "/v1/entities/tenant.a/resources/name/100%25",
        "/v1/entities/tenant.a/resources/name/%C3%BCn%C3%AF%C2%A9%C3%B8d%C3%A9",
        "/v1/entities/tenant.a/resources/name/%2E%2E",
        "/v1/entities/tenant.a/resources/name/%2E",
        "/v1/entities/tenant.a/resources/name/q%3Fx%23y",
        "/v1/entities/tenant.a/resources/name/..%2F..%2Fkv%2Fother",
    ]
    assert segment("") == ""


def test_v1_keys_travel_as_one_base64url_segment(scripted: Any) -> None:
    s = scripted([(204, {}, b"")])
    fast(s.url).kv("t1").put("a/../b ü", b"\x00\xff", ttl_ms=1500)
    r = s.requests[0]
    assert r["method"] == "PUT"
    assert r["path"] == "/v1/kv/t1/k/YS8uLi9iIMO8"
    assert json.loads(r["body"]) == {"value": "AP8=", "ttl_ms": 1500}
    assert r["headers"]["Content-Type"] == "application/json"
    assert r["headers"]["Authorization"] == "Bearer t"


def test_legacy_keys_keep_their_slashes_and_encode_the_rest(scripted: Any) -> None:
    s = scripted([(200, {}, {"value": "{\"a\": 1}"})])
    assert fast(s.url).legacy.get("dir/a b%", "t1") == {"a": 1}
    assert s.requests[0]["path"] == "/kv/t1/dir/a%20b%25"


def test_bad_arguments_are_refused_before_any_request(scripted: Any) -> None:
    s = scripted([(200, {}, {})])
    c = fast(s.url)
    with pytest.raises(ValueError):
        c.get_entity("resources", "", "t1")
    with pytest.raises(ValueError):
        c.rem("", "t1")
    with pytest.raises(ValueError):
        c.select("resources", "t1", limit=-1)
    with pytest.raises(TypeError):
        c.select("resources", "t1", order_by="-name")
    with pytest.raises(ValueError):
        c.semantic_search("resources", "t1", "q", threshold=float("nan"))
    with pytest.raises(ValueError):
        c.kv("t1").put("k", b"v", ttl_ms=-1)
    with pytest.raises(ValueError):
        c.add_edges("resources", "id", [{"dst": "", "rel_type": "r"}], "t1")
    with pytest.raises(ValueError):
        c.semantic_search_sql("resources", "q", metric="l2", tenant_id="t1")
    with pytest.raises(ValueError):
        P8fsClient("ftp://x")
    with pytest.raises(ValueError):
        P8fsClient("http://user:pw@host")
    assert s.requests == []


def test_the_token_is_not_in_the_repr() -> None:
    c = P8fsClient("http://127.0.0.1:1", token="s3cret")
    assert "s3cret" not in repr(c) and "s3cret" not in repr(c._t)


def test_entity_search_rem_and_edge_calls_follow_the_http_contract(scripted: Any) -> None:
    """The method, path, query and body of each call, as the contract fixes them."""
    s = scripted([(200, {}, {"entity": {}, "entities": [], "stored": [], "hits": [], "exact": True,
                             "candidates_examined": None, "deleted": True, "edges": [], "added": 0,
                             "updated": 0, "removed": 0, "kind": "lookup", "query": {}, "results": []})])
    c = fast(s.url)
    c.store_entity_with_reverse_mapping("n 1", "resources", {"content": "x"}, "t1")
    c.store_entities("moments", "t1", [("a", {}), {"name": "b", "data": {"k": 1}}])
    c.get_entity("resources", "id/1", "t1")
    c.get_entity_by_name("a/b", "resources", "t1")
    c.get_entities_by_storage_key("resources/id1", "t1")
    c.select("resources", "t1", {"category": "x", "ordinal__in": [1, 2], "uri": None}, ["-ordinal"], 5, 10)
    c.select("resources", "t1")
    c.semantic_search("resources", "t1", "q", limit=3, threshold=0.5, fields=["content"], exact=True)
    c.semantic_search_sql("resources", "q", "content", tenant_id="t1")
    c.delete_entity("resources", "id1", "t1")
    c.rem("LOOKUP a", "t1")
    c.edges("resources", "id1", "t1")
    c.add_edges("resources", "id1", [{"dst": "d", "rel_type": "r", "weight": 2.0, "properties": {"p": 1}}], "t1")
    c.remove_edges("resources", "id1", "d e", "t1", rel_type="r")
    c.remove_edges("resources", "id1", "d", "t1")
    got = [(r["method"], r["path"], json.loads(r["body"]) if r["body"] else None) for r in s.requests]
    assert got == [
        ("PUT", "/v1/entities/t1/resources", {"name": "n 1", "data": {"content": "x"}}),
        ("POST", "/v1/entities/t1/moments/batch",
         {"entities": [{"name": "a", "data": {}}, {"name": "b", "data": {"k": 1}}]}),
        ("GET", "/v1/entities/t1/resources/id/id%2F1", None),
        ("GET", "/v1/entities/t1/resources/name/a%2Fb", None),
        ("GET", "/v1/entities/t1/storage-key?key=resources%2Fid1", None),
        ("POST", "/v1/entities/t1/resources/select",
         {"filters": {"category": "x", "ordinal__in": [1, 2], "uri": None}, "order_by": ["-ordinal"], "limit": 5,
          "offset": 10}),
        ("POST", "/v1/entities/t1/resources/select", {}),
        ("POST", "/v1/entities/t1/resources/search",
         {"query": "q", "limit": 3, "threshold": 0.5, "fields": ["content"], "exact": True}),
        ("POST", "/v1/entities/t1/resources/search",
         {"query": "q", "limit": 10, "threshold": 0.7, "fields": ["content"]}),
        ("DELETE", "/v1/entities/t1/resources/id/id1", None),
        ("POST", "/v1/rem/t1", {"query": "LOOKUP a"}),
        ("GET", "/v1/entities/t1/resources/id/id1/edges", None),
        ("POST", "/v1/entities/t1/resources/id/id1/edges",
         {"edges": [{"dst": "d", "rel_type": "r", "weight": 2.0, "properties": {"p": 1}}]}),
        ("DELETE", "/v1/entities/t1/resources/id/id1/edges?dst=d%20e&rel_type=r", None),
        ("DELETE", "/v1/entities/t1/resources/id/id1/edges?dst=d", None),
    ]
    assert all(r["headers"]["Authorization"] == "Bearer t" for r in s.requests)


def test_v1_kv_calls_follow_the_wire_contract(scripted: Any) -> None:
    s = scripted([(200, {}, {"entries": [{"key": "a", "value": "MQ=="}], "next": None, "written": 1,
                             "deleted": 1, "swapped": True})])
    kv = fast(s.url).kv("t1")
    assert kv.batch_get(["a", "b"]) == {"a": b"1"}
    kv.batch_put({"a": b"1"}, ttl_ms=10)
    kv.batch_delete(["a"])
    kv.compare_and_swap("a", None, "v")
    page = kv.scan("p/", limit=5, after="p/a")
    assert page.entries[0].key == "a" and page.entries[0].value == b"1" and page.next is None
    kv.scan_range("a", "b")
    kv.delete_prefix("p/")
    fast(s.url).global_kv().delete("device_auth:x")
    got = [(r["method"], r["path"], json.loads(r["body"]) if r["body"] else None) for r in s.requests]
    assert got == [
        ("POST", "/v1/kv/t1/batch/get", {"keys": ["a", "b"]}),
        ("POST", "/v1/kv/t1/batch/put", {"entries": [{"key": "a", "value": "MQ=="}], "ttl_ms": 10}),
        ("POST", "/v1/kv/t1/batch/delete", {"keys": ["a"]}),
        ("POST", "/v1/kv/t1/cas", {"key": "a", "expected": None, "value": "dg=="}),
        ("GET", "/v1/kv/t1/scan?prefix=p%2F&limit=5&after=p%2Fa", None),
        ("GET", "/v1/kv/t1/scan?start=a&end=b", None),
        ("POST", "/v1/kv/t1/delete-prefix", {"prefix": "p/"}),
        ("DELETE", "/v1/global/k/ZGV2aWNlX2F1dGg6eA", None),
    ]
