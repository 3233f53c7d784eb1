"""REM queries against a real ``p8fs serve`` with a SQL provider: the tenant-aware LOOKUP
scenario of the system p8fs replaces, FUZZY, SEARCH, SELECT (with injection and tenant
escape attempts), TRAVERSE over a small graph, and malformed queries."""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Set, Tuple

import pytest

from p8fs_client import InvalidInput, P8fsClient, PermissionDenied, RemAnswer, StoredEntity

pytestmark = pytest.mark.usefixtures("entities")

NAME = "my-project-alpha"


def ids(answer: RemAnswer) -> Set[str]:
    return {h["id"] for h in answer["results"]}


def labelled(answer: RemAnswer) -> Set[Tuple[str, str]]:
    return {(h["table"], h["id"]) for h in answer["results"]}


@pytest.fixture(scope="module")
def alpha(client: P8fsClient, client_b: P8fsClient, tenant_a: str, tenant_b: str) -> Dict[str, Dict[str, str]]:
    """``my-project-alpha`` as a resource and as a moment, in tenants A and B."""
    out: Dict[str, Dict[str, str]] = {"a": {}, "b": {}}
    for who, c, t in (("a", client, tenant_a), ("b", client_b, tenant_b)):
        for table in ("resources", "moments"):
            s = c.store_entity_with_reverse_mapping(NAME, table, {"content": f"project alpha plan of {who}",
                                                                   "category": "project"}, t)
            out[who][table] = s["id"]
    return out


def test_lookup_from_a_returns_as_two_labelled_with_their_tables(client: P8fsClient, tenant_a: str,
                                                                  alpha: Dict[str, Dict[str, str]]) -> None:
    answer = client.rem(f"LOOKUP {NAME}", tenant_a)
    assert answer["kind"] == "lookup"
    assert labelled(answer) == {("resources", alpha["a"]["resources"]), ("moments", alpha["a"]["moments"])}
    for h in answer["results"]:
        assert h["entity"]["id"] == h["id"] and h.get("name", NAME) == NAME


def test_lookup_with_a_table_narrows_to_one(client: P8fsClient, tenant_a: str,
                                            alpha: Dict[str, Dict[str, str]]) -> None:
    answer = client.rem(f"LOOKUP resources:{NAME}", tenant_a)
    assert labelled(answer) == {("resources", alpha["a"]["resources"])}
    answer = client.rem(f"LOOKUP moments:{NAME}", tenant_a)
    assert labelled(answer) == {("moments", alpha["a"]["moments"])}


def test_b_never_sees_as_ids(client_b: P8fsClient, tenant_a: str, tenant_b: str,
                             alpha: Dict[str, Dict[str, str]]) -> None:
    a_ids = set(alpha["a"].values())
    answer = client_b.rem(f"LOOKUP {NAME}", tenant_b)
    assert ids(answer) == set(alpha["b"].values())
    assert not ids(answer) & a_ids
    for q in [f"FUZZY {NAME}", 'SEARCH "project alpha plan"', f"SELECT * FROM resources WHERE name = '{NAME}'",
              f"TRAVERSE WITH LOOKUP {NAME} DEPTH 2"]:
        assert not ids(client_b.rem(q, tenant_b)) & a_ids, q
    with pytest.raises(PermissionDenied):
        client_b.rem(f"LOOKUP {NAME}", tenant_a)


@pytest.mark.parametrize("query", [
    f"GET {NAME}",
    f'lookup "{NAME}"',
    f"Lookup '{NAME}'",
    f"LOOKUP `{NAME}`",
    f"  LOOKUP   {NAME}  ",
])
def test_lookup_spellings(client: P8fsClient, tenant_a: str, alpha: Dict[str, Dict[str, str]], query: str) -> None:
    assert ids(client.rem(query, tenant_a)) == set(alpha["a"].values())


def test_lookup_of_several_keys_and_keys_containing_in(client: P8fsClient, tenant_a: str, uid: str,
                                                       alpha: Dict[str, Dict[str, str]]) -> None:
    other = client.store_entity_with_reverse_mapping(f"join in {uid}", "resources", {"content": "x"}, tenant_a)
    answer = client.rem(f'LOOKUP {NAME}, "join in {uid}"', tenant_a)
    assert ids(answer) == set(alpha["a"].values()) | {other["id"]}
    assert ids(client.rem(f"LOOKUP missing-{uid}", tenant_a)) == set()


def test_fuzzy_ranks_near_names_in_the_tenant(client: P8fsClient, tenant_a: str,
                                              alpha: Dict[str, Dict[str, str]]) -> None:
    answer = client.rem("FUZZY my-projct-alpha", tenant_a)
    assert answer["kind"] == "fuzzy"
    assert set(alpha["a"].values()) & ids(answer)
    assert not set(alpha["b"].values()) & ids(answer)
    scores = [h["score"] for h in answer["results"] if "score" in h]
    assert scores == sorted(scores, reverse=True)
    narrowed = client.rem("FUZZY my-projct-alpha IN moments LIMIT 5", tenant_a)
    assert {h["table"] for h in narrowed["results"]} <= {"moments"}
    assert alpha["a"]["moments"] in ids(narrowed) and len(narrowed["results"]) <= 5


def test_search_and_implicit_search(client: P8fsClient, tenant_a: str, uid: str) -> None:
    word = f"zq{uid}"
    target = client.store_entity_with_reverse_mapping(f"kestrel-{uid}", "resources",
                                                      {"content": f"{word} kestrels hover over motorway verges"},
                                                      tenant_a)
    answer = client.rem(f'SEARCH "{word} kestrels hover" IN resources LIMIT 3', tenant_a)
    assert answer["kind"] == "search"
    assert answer["results"] and answer["results"][0]["id"] == target["id"]
    assert answer["results"][0]["table"] == "resources" and len(answer["results"]) <= 3
    implicit = client.rem(f"{word} kestrels hover", tenant_a)
    assert implicit["kind"] == "search" and target["id"] in ids(implicit)
    # A threshold above every score leaves nothing; a low one keeps the hit.
    assert client.rem(f'SEARCH "{word} kestrels hover"', tenant_a, threshold=1.01)["results"] == []
    assert target["id"] in ids(client.rem(f'SEARCH "{word} kestrels hover"', tenant_a, threshold=-1.0))
    # By words the made-up word alone finds it first. The model knows nothing of that word,
    # and the default hybrid weighs meaning 0.8, so a bare made-up word is not promised a
    # place there (other tests' resources share the tenant); words and meaning together are.
    found = client.rem(f'SEARCH "{word}" IN resources LIMIT 3', tenant_a, mode="text")
    assert found["results"] and found["results"][0]["id"] == target["id"]
    found = client.rem(f'SEARCH "{word} kestrels hover" IN resources LIMIT 3', tenant_a, mode="hybrid")
    assert found["results"] and found["results"][0]["id"] == target["id"]
    assert all(h["table"] == "resources" for h in found["results"]) and len(found["results"]) <= 3
    with pytest.raises(ValueError):
        client.rem("SEARCH x", tenant_a, mode="semantic")


def test_select_is_parsed_and_tenant_scoped(client: P8fsClient, tenant_a: str,
                                            alpha: Dict[str, Dict[str, str]]) -> None:
    answer = client.rem(f"SELECT * FROM resources WHERE name = '{NAME}' LIMIT 5", tenant_a)
    assert answer["kind"] == "select"
    assert ids(answer) == {alpha["a"]["resources"]}


@pytest.mark.parametrize("query", [
    f"SELECT * FROM resources WHERE name = '{NAME}' OR 1=1",
    "SELECT * FROM resources; DROP TABLE resources",
    "SELECT * FROM resources WHERE name = 'x'; DELETE FROM resources",
    "SELECT * FROM resources UNION SELECT * FROM moments",
    "SELECT * FROM p8fs_kv",
    "SELECT * FROM resources WHERE no_such_column = 1",
    "SELECT * FROM resources WHERE name = (SELECT name FROM moments)",
])
def test_select_refuses_what_is_not_allowed(client: P8fsClient, tenant_a: str, query: str) -> None:
    with pytest.raises(InvalidInput) as e:
        client.rem(query, tenant_a)
    assert e.value.status == 400 and e.value.message


def test_select_cannot_escape_the_tenant(client: P8fsClient, tenant_a: str, tenant_b: str,
                                         alpha: Dict[str, Dict[str, str]]) -> None:
    b_ids = set(alpha["b"].values())
    for q in [f"SELECT * FROM resources WHERE tenant_id = '{tenant_b}'",
              f"SELECT * FROM resources WHERE name = '{NAME}' AND tenant_id = '{tenant_b}'",
              f"SELECT * FROM resources WHERE tenant_id IN ('{tenant_a}', '{tenant_b}')"]:
        try:
            answer = client.rem(q, tenant_a)
        except InvalidInput:
            continue
        assert not ids(answer) & b_ids, q


@pytest.mark.parametrize("query", [
    "LOOKUP",
    "LOOKUP   ",
    "LOOKUP resources:",
    'SEARCH "unterminated',
    "SEARCH",
    'SEARCH "x" LIMIT -1',
    'SEARCH "x" LIMIT many',
    "FUZZY",
    "TRAVERSE WITH",
    "TRAVERSE WITH LOOKUP x DEPTH -1",
    "TRAVERSE WITH LOOKUP x DEPTH deep",
    "SELECT",
    "SELECT * FROM",
    "LOOKUP a,,b",
])
def test_malformed_queries_are_invalid_input(client: P8fsClient, tenant_a: str, query: str) -> None:
    with pytest.raises(InvalidInput) as e:
        client.rem(query, tenant_a)
    assert e.value.message


def test_other_statements_are_never_run(client: P8fsClient, tenant_a: str,
                                        alpha: Dict[str, Dict[str, str]]) -> None:
    # Not a REM keyword: an implicit SEARCH for the text, or a refusal; never a statement.
    for q in ["DELETE FROM resources", "DROP TABLE resources", "UPDATE resources SET name = 'x'",
              "INSERT INTO resources (name) VALUES ('x')"]:
        try:
            assert client.rem(q, tenant_a)["kind"] == "search", q
        except InvalidInput:
            pass
    assert ids(client.rem(f"LOOKUP {NAME}", tenant_a)) == set(alpha["a"].values())


def test_a_huge_query_is_refused_or_answered_not_crashed(client: P8fsClient, tenant_a: str) -> None:
    try:
        answer = client.rem("LOOKUP " + ", ".join(f"k{i}" for i in range(200_000)), tenant_a)
        assert answer["results"] == []
    except InvalidInput:
        pass
    assert client.rem("LOOKUP nothing-here", tenant_a)["results"] == []


@pytest.fixture(scope="module")
def graph(client: P8fsClient, tenant_a: str) -> Iterator[Dict[str, StoredEntity]]:
    """root -references-> child1 -references-> grandchild; root -authored_by-> child2 (a
    moment); child1 -references-> root (a cycle); root -references-> nowhere (unresolved)."""
    import uuid

    u = uuid.uuid4().hex[:10]
    names = {k: f"{k}-{u}" for k in ("root", "child1", "child2", "grandchild")}
    nodes: Dict[str, StoredEntity] = {}
    for k in ("root", "child1", "grandchild"):
        nodes[k] = client.store_entity_with_reverse_mapping(names[k], "resources", {"content": k}, tenant_a)
    nodes["child2"] = client.store_entity_with_reverse_mapping(names["child2"], "moments", {"content": "c2"}, tenant_a)
    client.add_edges("resources", nodes["root"]["id"], [
        {"dst": names["child1"], "rel_type": "references"},
        {"dst": names["child2"], "rel_type": "authored_by"},
        {"dst": f"nowhere-{u}", "rel_type": "references"},
    ], tenant_a)
    client.add_edges("resources", nodes["child1"]["id"], [
        {"dst": names["grandchild"], "rel_type": "references"},
        {"dst": names["root"], "rel_type": "references"},
    ], tenant_a)
    yield nodes


def by_depth(answer: RemAnswer) -> Dict[int, Set[str]]:
    out: Dict[int, Set[str]] = {}
    for h in answer["results"]:
        out.setdefault(h.get("depth", -1), set()).add(h["id"])
    return out


def test_traverse_visits_each_node_once_by_depth(client: P8fsClient, tenant_a: str,
                                                 graph: Dict[str, StoredEntity]) -> None:
    root = graph["root"]["name"]
    answer = client.rem(f"TRAVERSE WITH LOOKUP {root} DEPTH 2", tenant_a)
    assert answer["kind"] == "traverse"
    assert by_depth(answer) == {
        0: {graph["root"]["id"]},
        1: {graph["child1"]["id"], graph["child2"]["id"]},
        2: {graph["grandchild"]["id"]},
    }
    all_ids: List[str] = [h["id"] for h in answer["results"]]
    assert len(all_ids) == len(set(all_ids))  # the cycle back to root does not repeat it
    gc = next(h for h in answer["results"] if h["id"] == graph["grandchild"]["id"])
    assert gc["path"] == [root, graph["child1"]["name"], graph["grandchild"]["name"]]
    t = answer["traversal"]
    assert t["plan_only"] is False and t["max_depth"] == 2
    assert [s["depth"] for s in t["stages"]][:2] == [0, 1]
    assert t["summary"]["by_rel_type"].get("authored_by", 0) >= 1
    assert t["summary"]["unresolved"] >= 1


def test_traverse_with_an_edge_type_and_depth_one(client: P8fsClient, tenant_a: str,
                                                  graph: Dict[str, StoredEntity]) -> None:
    root = graph["root"]["name"]
    answer = client.rem(f"TRAVERSE references WITH LOOKUP {root} DEPTH 2", tenant_a)
    assert by_depth(answer) == {0: {graph["root"]["id"]}, 1: {graph["child1"]["id"]},
                                2: {graph["grandchild"]["id"]}}
    answer = client.rem(f"traverse WITH lookup {root} depth 1", tenant_a)
    assert by_depth(answer) == {0: {graph["root"]["id"]}, 1: {graph["child1"]["id"], graph["child2"]["id"]}}


def test_traverse_plan_reports_edges_without_fetching(client: P8fsClient, tenant_a: str,
                                                      graph: Dict[str, StoredEntity]) -> None:
    root = graph["root"]["name"]
    answer = client.rem(f"TRAVERSE WITH LOOKUP {root} DEPTH 0", tenant_a)
    t = answer["traversal"]
    assert t["plan_only"] is True
    assert {e["dst"] for e in t["edges"]} >= {graph["child1"]["name"], graph["child2"]["name"]}
    assert all(e["followed"] is False for e in t["edges"])
    assert not ids(answer) & {graph["child1"]["id"], graph["child2"]["id"], graph["grandchild"]["id"]}
