"""Graph edges of an entity against a real ``p8fs serve`` with a SQL provider."""

from __future__ import annotations

from typing import Any, Dict

import pytest

from p8fs_client import InvalidInput, NotFound, P8fsClient, PermissionDenied

pytestmark = pytest.mark.usefixtures("entities")


def test_add_list_merge_and_remove(client: P8fsClient, tenant_a: str, uid: str) -> None:
    e = client.store_entity_with_reverse_mapping(f"edges-{uid}", "resources", {"content": "x"}, tenant_a)
    assert client.edges("resources", e["id"], tenant_a) == []
    dst = f"dst {uid}/with%odd"
    change = client.add_edges("resources", e["id"], [{"dst": dst, "rel_type": "references"}], tenant_a)
    assert (change["added"], change["updated"], change["removed"]) == (1, 0, 0)
    [edge] = client.edges("resources", e["id"], tenant_a)
    assert edge["dst"] == dst and edge["rel_type"] == "references" and edge["weight"] == 1.0
    assert edge.get("properties", {}) == {} and edge.get("created_at")
    first_added = edge["created_at"]
    # The same (dst, rel_type) replaces the edge.
    change = client.add_edges("resources", e["id"], [
        {"dst": dst, "rel_type": "references", "weight": 2.5, "properties": {"why": "cited", "n": [1]}}], tenant_a)
    assert (change["added"], change["updated"]) == (0, 1)
    [edge] = change["edges"]
    assert edge["weight"] == 2.5 and edge["properties"] == {"why": "cited", "n": [1]}
    assert edge.get("created_at") == first_added  # when it was first added
    # Another relation type to the same destination is another edge.
    change = client.add_edges("resources", e["id"], [{"dst": dst, "rel_type": "authored_by"}], tenant_a)
    assert change["added"] == 1 and len(change["edges"]) == 2
    listed = client.edges("resources", e["id"], tenant_a)
    assert sorted((x["dst"], x["rel_type"]) for x in listed) == [(dst, "authored_by"), (dst, "references")]
    change = client.remove_edges("resources", e["id"], dst, tenant_a, rel_type="references")
    assert change["removed"] == 1 and [x["rel_type"] for x in change["edges"]] == ["authored_by"]
    change = client.remove_edges("resources", e["id"], f"not-there-{uid}", tenant_a)
    assert change["removed"] == 0 and len(change["edges"]) == 1
    change = client.remove_edges("resources", e["id"], dst, tenant_a)
    assert change["removed"] == 1 and change["edges"] == []
    assert client.edges("resources", e["id"], tenant_a) == []


def test_one_request_with_a_duplicate_keeps_one_edge(client: P8fsClient, tenant_a: str, uid: str) -> None:
    e = client.store_entity_with_reverse_mapping(f"dup-{uid}", "resources", {"content": "x"}, tenant_a)
    change = client.add_edges("resources", e["id"], [{"dst": "d", "rel_type": "r", "weight": 1.0},
                                                      {"dst": "d", "rel_type": "r", "weight": 3.0}], tenant_a)
    assert len(change["edges"]) == 1 and change["edges"][0]["weight"] == 3.0


def test_edges_of_a_missing_entity_are_not_found(client: P8fsClient, tenant_a: str, uid: str) -> None:
    with pytest.raises(NotFound):
        client.edges("resources", f"missing-{uid}", tenant_a)
    with pytest.raises(NotFound):
        client.add_edges("resources", f"missing-{uid}", [{"dst": "d", "rel_type": "r"}], tenant_a)
    with pytest.raises(NotFound):
        client.remove_edges("resources", f"missing-{uid}", "d", tenant_a)


def test_edges_of_another_tenants_entity(client: P8fsClient, client_b: P8fsClient, tenant_a: str, tenant_b: str,
                                         uid: str) -> None:
    e = client.store_entity_with_reverse_mapping(f"private-{uid}", "resources", {"content": "x"}, tenant_a)
    client.add_edges("resources", e["id"], [{"dst": "secret", "rel_type": "r"}], tenant_a)
    with pytest.raises(PermissionDenied):
        client_b.edges("resources", e["id"], tenant_a)
    with pytest.raises(PermissionDenied):
        client_b.add_edges("resources", e["id"], [{"dst": "x", "rel_type": "r"}], tenant_a)
    with pytest.raises(NotFound):
        client_b.edges("resources", e["id"], tenant_b)
    with pytest.raises(NotFound):
        client_b.add_edges("resources", e["id"], [{"dst": "x", "rel_type": "r"}], tenant_b)
    assert [x["dst"] for x in client.edges("resources", e["id"], tenant_a)] == ["secret"]


@pytest.mark.parametrize("edge", [
    {"dst": "d", "rel_type": "r", "properties": [1, 2]},
    {"dst": "d", "rel_type": "r", "weight": "heavy"},
    {"dst": " d", "rel_type": "r"},
    {"dst": "d", "rel_type": "r", "unknown": 1, "properties": "x"},
    {"dst": "d"},
])
def test_bad_edges_are_refused(client: P8fsClient, tenant_a: str, uid: str, edge: Dict[str, Any]) -> None:
    e = client.store_entity_with_reverse_mapping(f"bad-edge-{uid}", "resources", {"content": "x"}, tenant_a)
    with pytest.raises((InvalidInput, ValueError)):
        client.add_edges("resources", e["id"], [edge], tenant_a)
    assert client.edges("resources", e["id"], tenant_a) == []
