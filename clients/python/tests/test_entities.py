"""Entities and semantic search against a real ``p8fs serve`` with a SQL provider."""

from __future__ import annotations

from typing import Any, Callable, Dict, List

import pytest

from p8fs_client import InvalidInput, NotFound, P8fsClient, PermissionDenied

pytestmark = pytest.mark.usefixtures("entities")


def resource(content: str, **extra: Any) -> Dict[str, Any]:
    data: Dict[str, Any] = {"category": "test", "content": content, "summary": "s", "metadata": {"k": [1, "\u00fc"]}}
    data.update(extra)
    return data


def test_store_then_get_by_id_name_and_storage_key(client: P8fsClient, client_b: P8fsClient, tenant_a: str,
                                                    tenant_b: str, uid: str) -> None:
    name = f"doc-{uid}"
    stored = client.store_entity_with_reverse_mapping(name, "resources", resource("hello world"), tenant_a)
    assert stored["name"] == name and stored["entity_type"] == "resources" and stored["tenant"] == tenant_a
    assert stored["storage_key"] == f"resources/{stored['id']}"
    by_id = client.get_entity("resources", stored["id"], tenant_a)
    assert by_id is not None and by_id["name"] == name and by_id["content"] == "hello world"
    assert by_id["metadata"] == {"k": [1, "\u00fc"]}
    by_name = client.get_entity_by_name(name, "resources", tenant_a)
    assert by_name is not None and by_name["id"] == stored["id"]
    listed = client.get_entities_by_storage_key(stored["storage_key"], tenant_a)
    assert [e["id"] for e in listed] == [stored["id"]]
    # Tenant B, on its own tenant, sees none of it.
    assert client_b.get_entity("resources", stored["id"], tenant_b) is None
    assert client_b.get_entity_by_name(name, "resources", tenant_b) is None
    assert client_b.get_entities_by_storage_key(stored["storage_key"], tenant_b) == []
    # Missing things are None / empty, not errors.
    assert client.get_entity_by_name(f"missing-{uid}", "resources", tenant_a) is None
    assert client.get_entity("resources", f"missing-{uid}", tenant_a) is None
    assert client.get_entities_by_storage_key(f"resources/missing-{uid}", tenant_a) == []


def test_storing_a_name_again_updates_the_same_entity(client: P8fsClient, tenant_a: str, uid: str) -> None:
    name = f"upsert-{uid}"
    first = client.store_entity_with_reverse_mapping(name, "resources", resource("v1"), tenant_a)
    second = client.store_entity_with_reverse_mapping(name, "resources", resource("v2"), tenant_a)
    assert first["id"] == second["id"]
    got = client.get_entity_by_name(name, "resources", tenant_a)
    assert got is not None and got["content"] == "v2"


@pytest.mark.parametrize("odd", ["dir/sub name", "100% sure", "\u00fcn\u00efc\u00f8de \u65e5\u672c",
                                 "q?x#y&z=1", "x'; DROP TABLE resources; --", "..", "."])
def test_names_with_awkward_characters_round_trip(client: P8fsClient, tenant_a: str, uid: str, odd: str) -> None:
    name = odd if odd in ("..", ".") else f"{odd} {uid}"
    try:
        stored = client.store_entity_with_reverse_mapping(name, "resources", resource("odd"), tenant_a)
    except InvalidInput:
        # A server may refuse dot-only names (they are path segments elsewhere); it must
        # refuse, not misroute.
        assert name in ("..", ".")
        return
    got = client.get_entity_by_name(name, "resources", tenant_a)
    assert got is not None and got["id"] == stored["id"] and got["name"] == name


def test_batch_store_answers_in_input_order(client: P8fsClient, tenant_a: str, uid: str) -> None:
    names = [f"batch-{uid}-{i}" for i in (3, 1, 2)]
    stored = client.store_entities("resources", tenant_a, [(n, resource(f"content {n}")) for n in names])
    assert [s["name"] for s in stored] == names
    assert len({s["id"] for s in stored}) == 3
    also = client.store_entities("resources", tenant_a, [{"name": names[0], "data": resource("again")}])
    assert also[0]["id"] == stored[0]["id"]
    assert client.store_entities("resources", tenant_a, []) == []


def test_a_batch_over_the_limit_is_refused(client: P8fsClient, tenant_a: str, uid: str) -> None:
    n = int(client.capability()["max_batch"]) + 1
    with pytest.raises(InvalidInput):
        client.store_entities("resources", tenant_a, [(f"big-{uid}-{i}", {}) for i in range(n)])
    assert client.get_entity_by_name(f"big-{uid}-0", "resources", tenant_a) is None


def test_select_filters_orders_and_pages(client: P8fsClient, client_b: P8fsClient, tenant_a: str, tenant_b: str,
                                         uid: str) -> None:
    cat = f"cat-{uid}"
    client.store_entities("resources", tenant_a,
                          [(f"sel-{uid}-{i}", resource(f"c{i}", category=cat, ordinal=i)) for i in (2, 1, 3)])
    client_b.store_entity_with_reverse_mapping(f"sel-{uid}-b", "resources", resource("b", category=cat, ordinal=9),
                                               tenant_b)

    def ordinals(rows: List[Dict[str, Any]]) -> List[int]:
        return [r["ordinal"] for r in rows]

    assert ordinals(client.select("resources", tenant_a, {"category": cat}, order_by=["-ordinal"])) == [3, 2, 1]
    assert ordinals(client.select("resources", tenant_a, {"category": cat}, ["ordinal"], limit=2)) == [1, 2]
    assert ordinals(client.select("resources", tenant_a, {"category": cat}, ["ordinal"], limit=2, offset=2)) == [3]
    assert ordinals(client.select("resources", tenant_a, {"category": cat, "ordinal__gte": 2}, ["ordinal"])) == [2, 3]
    assert ordinals(client.select("resources", tenant_a, {"category": cat, "ordinal__in": [1, 3]}, ["ordinal"])) == [1, 3]
    assert client.select("resources", tenant_a, {"category": cat, "ordinal__in": []}) == []
    assert ordinals(client_b.select("resources", tenant_b, {"category": cat})) == [9]


@pytest.mark.parametrize("filters", [
    {"no_such_field": 1},
    {"category; DROP TABLE resources": 1},
    {"category__nope": 1},
    {"category) OR (1=1": "x"},
])
def test_select_refuses_what_the_model_does_not_have(client: P8fsClient, tenant_a: str,
                                                     filters: Dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        client.select("resources", tenant_a, filters)


def test_select_cannot_reach_another_tenant(client: P8fsClient, client_b: P8fsClient, tenant_a: str,
                                            tenant_b: str, uid: str) -> None:
    stored = client_b.store_entity_with_reverse_mapping(f"esc-{uid}", "resources", resource("b"), tenant_b)
    try:
        rows = client.select("resources", tenant_a, {"tenant_id": tenant_b})
    except InvalidInput:
        return
    assert all(r["id"] != stored["id"] for r in rows)
    assert all(r.get("tenant_id", tenant_a) == tenant_a for r in rows)


def test_select_limits_are_checked(client: P8fsClient, tenant_a: str) -> None:
    # Over the maximum (1000): refused, or at least never more rows than the maximum.
    try:
        assert len(client.select("resources", tenant_a, limit=1_000_001)) <= 1000
    except InvalidInput:
        pass
    with pytest.raises(InvalidInput):
        client.select("resources", tenant_a, order_by=["-no_such_field"])


def test_semantic_search_finds_the_entity_in_its_tenant_only(client: P8fsClient, client_b: P8fsClient,
                                                             tenant_a: str, tenant_b: str, uid: str) -> None:
    word = f"zq{uid}"
    name = f"orchids-{uid}"
    target = client.store_entity_with_reverse_mapping(
        name, "resources", resource(f"{word} euglossine bees pollinate bucket orchids in the rainforest"), tenant_a)
    client.store_entity_with_reverse_mapping(f"other-{uid}", "resources",
                                             resource("quarterly budget forecast spreadsheet review"), tenant_a)
    answer = client.semantic_search("resources", tenant_a, f"{word} euglossine bees orchids", limit=5)
    assert answer["hits"], answer
    top = answer["hits"][0]
    assert top["entity"]["id"] == target["id"] and top["field"] == "content"
    assert isinstance(top["score"], float) and isinstance(top["distance"], float)
    assert isinstance(answer["exact"], bool)
    exact = client.semantic_search("resources", tenant_a, f"{word} euglossine bees orchids", limit=5, exact=True,
                                   fields=["content"])
    assert exact["hits"][0]["entity"]["id"] == target["id"]
    # A threshold above any score keeps nothing.
    assert client.semantic_search("resources", tenant_a, word, threshold=1.01)["hits"] == []
    hits = client.semantic_search_sql("resources", f"{word} euglossine bees orchids", threshold=0.0, tenant_id=tenant_a)
    assert hits and hits[0]["entity"]["id"] == target["id"]
    theirs = client_b.semantic_search("resources", tenant_b, f"{word} euglossine bees orchids", limit=50)
    assert all(h["entity"]["id"] != target["id"] for h in theirs["hits"])


def test_text_and_hybrid_search_find_the_word_in_the_tenant_only(client: P8fsClient, client_b: P8fsClient,
                                                                  tenant_a: str, tenant_b: str, uid: str) -> None:
    word = f"zq{uid}"
    target = client.store_entity_with_reverse_mapping(
        f"rare-{uid}", "resources", resource(f"the {word} valve regulates steam pressure"), tenant_a)
    client.store_entity_with_reverse_mapping(f"plain-{uid}", "resources", resource("steam engines of old"), tenant_a)
    client_b.store_entity_with_reverse_mapping(f"theirs-{uid}", "resources", resource(f"{word} in tenant b"), tenant_b)
    # By words the made-up word alone ranks first. The model knows nothing of it and the
    # default hybrid weighs meaning 0.8, so the bare word is promised first place only when
    # all the weight is on words; words and meaning together rank it first in every fusion.
    phrase = f"{word} valve regulates steam pressure"
    for mode, query in (("text", word), ("hybrid", phrase)):
        hits = client.semantic_search("resources", tenant_a, query, limit=5, mode=mode)["hits"]
        assert all(h["entity"]["tenant_id"] == tenant_a for h in hits), mode
        assert hits and hits[0]["entity"]["id"] == target["id"], (mode, hits)
    weighted = client.semantic_search("resources", tenant_a, word, limit=5, mode="hybrid", text_weight=1.0)
    assert weighted["hits"][0]["entity"]["id"] == target["id"]
    ranks = client.semantic_search("resources", tenant_a, phrase, limit=5, mode="hybrid", rrf_k=60)
    assert ranks["hits"][0]["entity"]["id"] == target["id"]
    assert all(h["entity"]["tenant_id"] == tenant_a for h in ranks["hits"])
    theirs = client_b.semantic_search("resources", tenant_b, word, limit=50, mode="text")["hits"]
    assert all(h["entity"]["id"] != target["id"] for h in theirs)
    # Query syntax is never the caller's: operators are words or nothing.
    for hostile in ['" OR 1=1 --', f"{word} & !x | y:*", "MATCH(content) AGAINST('x')"]:
        try:
            found = client.semantic_search("resources", tenant_a, hostile, mode="text")["hits"]
            assert all(h["entity"]["tenant_id"] == tenant_a for h in found)
        except InvalidInput:
            pass
    with pytest.raises(ValueError):
        client.semantic_search("resources", tenant_a, word, mode="fulltext")
    with pytest.raises(ValueError):
        client.semantic_search("resources", tenant_a, word, mode="hybrid", rrf_k=60, text_weight=0.5)


def test_search_refuses_bad_input(client: P8fsClient, tenant_a: str) -> None:
    try:
        assert len(client.semantic_search("resources", tenant_a, "q", limit=1_000_001)["hits"]) <= 1000
    except InvalidInput:
        pass
    with pytest.raises(InvalidInput):
        client.semantic_search("resources", tenant_a, "q", fields=["no_such_field"])


def test_delete(client: P8fsClient, tenant_a: str, uid: str) -> None:
    name = f"del-{uid}"
    stored = client.store_entity_with_reverse_mapping(name, "resources", resource("bye"), tenant_a)
    assert client.delete_entity("resources", stored["id"], tenant_a) is True
    assert client.get_entity("resources", stored["id"], tenant_a) is None
    assert client.get_entity_by_name(name, "resources", tenant_a) is None
    assert client.delete_entity("resources", stored["id"], tenant_a) is False


def test_another_tenant_cannot_delete(client: P8fsClient, client_b: P8fsClient, tenant_a: str, tenant_b: str,
                                      uid: str) -> None:
    stored = client.store_entity_with_reverse_mapping(f"keep-{uid}", "resources", resource("keep"), tenant_a)
    assert client_b.delete_entity("resources", stored["id"], tenant_b) is False
    with pytest.raises(PermissionDenied):
        client_b.delete_entity("resources", stored["id"], tenant_a)
    assert client.get_entity("resources", stored["id"], tenant_a) is not None


def test_unknown_types_and_bad_data_are_refused(client: P8fsClient, tenant_a: str, uid: str) -> None:
    for bad_type in ["no_such_table", "resources; DROP TABLE resources", "../kv"]:
        with pytest.raises((InvalidInput, NotFound)):
            client.store_entity_with_reverse_mapping(f"x-{uid}", bad_type, {}, tenant_a)
    with pytest.raises(InvalidInput):
        client.store_entity_with_reverse_mapping(f"x-{uid}", "resources", {"no_such_field": 1}, tenant_a)
    with pytest.raises(InvalidInput):
        client.store_entity_with_reverse_mapping(f"x-{uid}", "resources", {"ordinal": "not a number"}, tenant_a)
    with pytest.raises(InvalidInput):
        client.store_entity_with_reverse_mapping(f"x-{uid}", "resources", {"name": f"other-{uid}"}, tenant_a)
    assert client.get_entity_by_name(f"x-{uid}", "resources", tenant_a) is None


def test_entity_routes_need_the_tenants_token(anonymous: P8fsClient, client_b: P8fsClient, tenant_a: str,
                                              uid: str) -> None:
    with pytest.raises(PermissionDenied) as e:
        anonymous.store_entity_with_reverse_mapping(f"anon-{uid}", "resources", resource("x"), tenant_a)
    assert e.value.status == 401
    with pytest.raises(PermissionDenied) as e:
        anonymous.select("resources", tenant_a)
    assert e.value.status == 401
    calls: List[Callable[[], object]] = [
        lambda: client_b.store_entity_with_reverse_mapping(f"b-{uid}", "resources", resource("x"), tenant_a),
        lambda: client_b.store_entities("resources", tenant_a, [(f"b-{uid}", resource("x"))]),
        lambda: client_b.get_entity_by_name(f"b-{uid}", "resources", tenant_a),
        lambda: client_b.get_entity("resources", "some-id", tenant_a),
        lambda: client_b.get_entities_by_storage_key("resources/some-id", tenant_a),
        lambda: client_b.select("resources", tenant_a),
        lambda: client_b.semantic_search("resources", tenant_a, "x"),
        lambda: client_b.rem("LOOKUP x", tenant_a),
        lambda: client_b.edges("resources", "some-id", tenant_a),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied) as e:
            call()
        assert e.value.status == 403
