"""KV through both wire contracts against a real ``p8fs serve``."""

from __future__ import annotations

import time

import pytest

from p8fs_client import ConditionNotMet, InvalidInput, P8fsClient, PermissionDenied


# ---- /v1 --------------------------------------------------------------------------------


def test_v1_round_trip_of_bytes_text_and_json(client: P8fsClient, tenant_a: str, uid: str) -> None:
    kv = client.kv(tenant_a)
    kv.put(f"{uid}/bin", b"\x00\x01\xfe\xff")
    kv.put(f"{uid}/text", "h\u00e9llo")
    kv.put_json(f"{uid}/doc", {"a": [1, 2], "b": None, "c": "\u00fc"})
    assert kv.get(f"{uid}/bin") == b"\x00\x01\xfe\xff"
    assert kv.get(f"{uid}/text") == "h\u00e9llo".encode()
    assert kv.get_json(f"{uid}/doc") == {"a": [1, 2], "b": None, "c": "\u00fc"}
    kv.put(f"{uid}/bin", b"")
    assert kv.get(f"{uid}/bin") == b""


def test_v1_missing_key_is_none_and_delete_is_idempotent(client: P8fsClient, tenant_a: str, uid: str) -> None:
    kv = client.kv(tenant_a)
    assert kv.get(f"{uid}/nothing") is None
    assert kv.get_json(f"{uid}/nothing") is None
    kv.put(f"{uid}/k", b"v")
    kv.delete(f"{uid}/k")
    assert kv.get(f"{uid}/k") is None
    kv.delete(f"{uid}/k")


def test_v1_keys_with_awkward_characters(client: P8fsClient, tenant_a: str, uid: str) -> None:
    kv = client.kv(tenant_a)
    keys = [f"{uid}/a b", f"{uid}/100%", f"{uid}/\u00fcn\u00efc\u00f8de", f"{uid}/q?x#y", f"{uid}/...", f"{uid}/.hidden"]
    for i, k in enumerate(keys):
        kv.put(k, str(i))
    for i, k in enumerate(keys):
        assert kv.get(k) == str(i).encode(), k


def test_v1_keys_that_would_resolve_to_others_are_refused(client: P8fsClient, tenant_a: str, uid: str) -> None:
    kv = client.kv(tenant_a)
    for bad in [f"{uid}/../x", "..", f"{uid}/.", f"{uid}/a\nb"]:
        with pytest.raises(InvalidInput):
            kv.put(bad, b"v")
    with pytest.raises(ValueError):
        kv.put("", b"v")


def test_v1_scan_is_sorted_bounded_by_the_prefix_and_pages(client: P8fsClient, tenant_a: str, uid: str) -> None:
    kv = client.kv(tenant_a)
    names = ["e", "b", "d", "a", "c"]
    kv.batch_put({f"{uid}/p/{n}": n for n in names})
    kv.put(f"{uid}/q/a", b"outside")
    kv.put(f"{uid}/p", b"the prefix itself without the slash")
    page = kv.scan(f"{uid}/p/", limit=2)
    assert [e.key for e in page.entries] == [f"{uid}/p/a", f"{uid}/p/b"]
    assert page.next is not None
    everything = list(kv.scan_all(f"{uid}/p/", page_size=2))
    assert [e.key for e in everything] == [f"{uid}/p/{n}" for n in sorted(names)]
    assert [e.value for e in everything] == [n.encode() for n in sorted(names)]
    rng = kv.scan_range(f"{uid}/p/b", f"{uid}/p/d")
    assert [e.key for e in rng.entries] == [f"{uid}/p/b", f"{uid}/p/c"] and rng.next is None


def test_v1_batch_get_put_delete(client: P8fsClient, tenant_a: str, uid: str) -> None:
    kv = client.kv(tenant_a)
    assert kv.batch_put({f"{uid}/1": b"one", f"{uid}/2": b"two", f"{uid}/3": b"three"}) == 3
    got = kv.batch_get([f"{uid}/3", f"{uid}/missing", f"{uid}/1"])
    assert got == {f"{uid}/3": b"three", f"{uid}/1": b"one"}
    assert list(got) == [f"{uid}/3", f"{uid}/1"]  # the order asked
    assert kv.batch_delete([f"{uid}/1", f"{uid}/2"]) == 2
    assert kv.batch_get([f"{uid}/1", f"{uid}/2", f"{uid}/3"]) == {f"{uid}/3": b"three"}
    assert kv.batch_get([]) == {}


def test_v1_ttl_expires(client: P8fsClient, tenant_a: str, uid: str) -> None:
    kv = client.kv(tenant_a)
    kv.put(f"{uid}/short", b"v", ttl_ms=700)
    kv.batch_put({f"{uid}/b-short": b"v"}, ttl_ms=700)
    kv.put(f"{uid}/long", b"v", ttl_ms=600_000)
    assert kv.get(f"{uid}/short") == b"v"
    time.sleep(2.1)  # past the TTL even when the backend rounds it up to whole seconds
    assert kv.get(f"{uid}/short") is None
    assert kv.batch_get([f"{uid}/b-short", f"{uid}/long"]) == {f"{uid}/long": b"v"}
    assert [e.key for e in kv.scan(f"{uid}/").entries] == [f"{uid}/long"]


def test_v1_compare_and_swap(client: P8fsClient, tenant_a: str, uid: str) -> None:
    kv = client.kv(tenant_a)
    key = f"{uid}/cas"
    kv.compare_and_swap(key, None, b"first")
    assert kv.get(key) == b"first"
    with pytest.raises(ConditionNotMet) as e:
        kv.compare_and_swap(key, None, b"again")
    assert e.value.current == b"first"
    with pytest.raises(ConditionNotMet) as e:
        kv.compare_and_swap(key, b"wrong", b"x")
    assert e.value.current == b"first"
    kv.compare_and_swap(key, b"first", b"second")
    assert kv.get(key) == b"second"
    kv.delete(key)
    with pytest.raises(ConditionNotMet) as e:
        kv.compare_and_swap(key, b"second", b"x")
    assert e.value.current is None


def test_v1_delete_prefix(client: P8fsClient, tenant_a: str, uid: str) -> None:
    kv = client.kv(tenant_a)
    kv.batch_put({f"{uid}/d/1": b"1", f"{uid}/d/2": b"2", f"{uid}/dx": b"keep"})
    assert kv.delete_prefix(f"{uid}/d/") == 2
    assert [e.key for e in kv.scan(f"{uid}/").entries] == [f"{uid}/dx"]
    with pytest.raises(ValueError):
        kv.delete_prefix("")


def test_v1_tenants_do_not_see_each_other(client: P8fsClient, client_b: P8fsClient, tenant_a: str,
                                          tenant_b: str, uid: str) -> None:
    client.kv(tenant_a).put(f"{uid}/secret", b"a")
    assert client_b.kv(tenant_b).get(f"{uid}/secret") is None
    assert client_b.kv(tenant_b).scan(f"{uid}/").entries == []
    with pytest.raises(PermissionDenied):
        client_b.kv(tenant_a).get(f"{uid}/secret")
    with pytest.raises(PermissionDenied):
        client_b.kv(tenant_a).put(f"{uid}/secret", b"overwritten")
    with pytest.raises(PermissionDenied):
        client_b.kv(tenant_a).scan(f"{uid}/")
    assert client.kv(tenant_a).get(f"{uid}/secret") == b"a"


def test_v1_auth(anonymous: P8fsClient, url: str, client: P8fsClient, tenant_a: str, uid: str) -> None:
    with pytest.raises(PermissionDenied) as e:
        anonymous.kv(tenant_a).get(f"{uid}/k")
    assert e.value.status == 401
    with P8fsClient(url, token="not-a-token", trust_env=False) as bad:
        with pytest.raises(PermissionDenied) as e:
            bad.kv(tenant_a).put(f"{uid}/k", b"v")
        assert e.value.status == 401
    # A tenant's token never reaches the global namespace.
    with pytest.raises(PermissionDenied) as e:
        client.global_kv().get("device_auth:x")
    assert e.value.status == 403


def test_capability(client: P8fsClient) -> None:
    cap = client.capability()
    assert cap["key_route"] == "k/{base64url}"
    assert cap["max_batch"] >= 1 and cap["max_scan_limit"] >= 1


# ---- legacy /kv -------------------------------------------------------------------------


def test_legacy_round_trip_and_missing_key(client: P8fsClient, tenant_a: str, uid: str) -> None:
    legacy = client.legacy
    value = {"entity_type": "resources", "entity_name": "x", "n": 1.5, "nested": {"l": [1, "\u00fc"]}}
    legacy.put(f"{uid}/name/resources", value, tenant_a)
    assert legacy.get(f"{uid}/name/resources", tenant_a) == value
    assert legacy.get(f"{uid}/missing", tenant_a) is None
    legacy.delete(f"{uid}/name/resources", tenant_a)
    assert legacy.get(f"{uid}/name/resources", tenant_a) is None
    legacy.delete(f"{uid}/name/resources", tenant_a)  # missing: still fine


def test_legacy_and_v1_see_the_same_keys(client: P8fsClient, tenant_a: str, uid: str) -> None:
    client.legacy.put(f"{uid}/shared", {"a": 1}, tenant_a)
    assert client.kv(tenant_a).get_json(f"{uid}/shared") == {"a": 1}
    client.kv(tenant_a).put_json(f"{uid}/other", [1, 2])
    assert client.legacy.get(f"{uid}/other", tenant_a) == [1, 2]


def test_legacy_scan_strips_the_tenant_sorts_and_limits(client: P8fsClient, tenant_a: str, uid: str) -> None:
    for n in ["c", "a", "b"]:
        client.legacy.put(f"{uid}/s/{n}", {"n": n}, tenant_a)
    client.legacy.put(f"{uid}/t/z", {"n": "z"}, tenant_a)
    got = client.legacy.scan(f"{uid}/s/", tenant_a)
    assert got == [{"key": f"{uid}/s/{n}", "value": {"n": n}} for n in ["a", "b", "c"]]
    assert [e["key"] for e in client.legacy.scan(f"{uid}/s/", tenant_a, limit=2)] == [f"{uid}/s/a", f"{uid}/s/b"]


def test_legacy_batch_get(client: P8fsClient, tenant_a: str, uid: str) -> None:
    client.legacy.put(f"{uid}/1", 1, tenant_a)
    client.legacy.put(f"{uid}/2", "two", tenant_a)
    assert client.legacy.batch_get([f"{uid}/2", f"{uid}/none", f"{uid}/1"], tenant_a) == {f"{uid}/2": "two", f"{uid}/1": 1}


def test_legacy_ttl_seconds(client: P8fsClient, tenant_a: str, uid: str) -> None:
    client.legacy.put(f"{uid}/ttl", {"v": 1}, tenant_a, ttl_seconds=1)
    assert client.legacy.get(f"{uid}/ttl", tenant_a) == {"v": 1}
    time.sleep(2.1)
    assert client.legacy.get(f"{uid}/ttl", tenant_a) is None


def test_legacy_other_tenant_and_no_token_are_refused(client_b: P8fsClient, anonymous: P8fsClient,
                                                      client: P8fsClient, tenant_a: str, uid: str) -> None:
    client.legacy.put(f"{uid}/mine", {"v": 1}, tenant_a)
    with pytest.raises(PermissionDenied):
        client_b.legacy.get(f"{uid}/mine", tenant_a)
    with pytest.raises(PermissionDenied):
        client_b.legacy.put(f"{uid}/mine", {"v": 2}, tenant_a)
    with pytest.raises(PermissionDenied):
        client_b.legacy.scan(f"{uid}/", tenant_a)
    with pytest.raises(PermissionDenied):
        client_b.legacy.batch_get([f"{uid}/mine"], tenant_a)
    with pytest.raises(PermissionDenied) as e:
        anonymous.legacy.get(f"{uid}/mine", tenant_a)
    assert e.value.status == 401
    assert client.legacy.get(f"{uid}/mine", tenant_a) == {"v": 1}
