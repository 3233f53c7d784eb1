"""The shapes of the server's answers (the JSON the ``/v1`` entity, search, REM and edge
routes write), as ``TypedDict`` for type checkers: at run time they are plain dicts."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, TypedDict

__all__ = [
    "Entity",
    "StoredEntity",
    "Edge",
    "EdgeChange",
    "SearchHit",
    "SearchAnswer",
    "RemHit",
    "RemAnswer",
    "Traversal",
    "TraversalStage",
    "TraversedEdge",
    "EdgeSummary",
]

#: An entity as stored: its columns (``id``, the model's fields, ``tenant_id``,
#: ``created_at``, ``updated_at``), JSON values as JSON.
Entity = Dict[str, Any]


class StoredEntity(TypedDict):
    """What a store answers for each entity written."""

    id: str
    #: ``TYPE/ID``, as :meth:`P8fsClient.get_entities_by_storage_key` takes it.
    storage_key: str
    entity_type: str
    name: str
    tenant: str


class _EdgeRequired(TypedDict):
    dst: str
    rel_type: str


class Edge(_EdgeRequired, total=False):
    """A graph edge of an entity (``graph_paths``): the destination's name, the relation
    type, a weight (default 1.0), free properties, and when it was first added (RFC 3339,
    set by the server when absent)."""

    weight: float
    properties: Dict[str, Any]
    created_at: str


class EdgeChange(TypedDict):
    """What an edge change did, and the entity's edges after it."""

    added: int
    updated: int
    removed: int
    edges: List[Edge]


class SearchHit(TypedDict):
    """One semantic-search result: the entity, the embedded field that matched, the
    distance and the score (higher is closer)."""

    entity: Entity
    field: str
    distance: float
    score: float


class SearchAnswer(TypedDict):
    """The answer of a semantic search."""

    hits: List[SearchHit]
    #: Whether the search was exact (no vector index used).
    exact: bool
    #: How many candidates an approximate search examined (``None`` when exact).
    candidates_examined: Optional[int]


class _RemHitRequired(TypedDict):
    table: str
    id: str
    entity: Entity


class RemHit(_RemHitRequired, total=False):
    """One entity a REM query found, labelled with its table; ``score`` for SEARCH and
    FUZZY, ``depth`` and ``path`` (names from a seed to this node) for TRAVERSE."""

    name: str
    score: float
    depth: int
    path: List[str]


class TraversalStage(TypedDict):
    """One level of a traversal."""

    depth: int
    nodes: int
    edges: int


class _TraversedEdgeRequired(TypedDict):
    src_table: str
    src_id: str
    dst: str
    rel_type: str
    weight: float
    properties: Dict[str, Any]
    depth: int
    followed: bool


class TraversedEdge(_TraversedEdgeRequired, total=False):
    """An edge a traversal met (``resolved``: whether its destination exists)."""

    created_at: str
    resolved: bool


class EdgeSummary(TypedDict):
    """Counts of the edges a traversal met."""

    total: int
    by_rel_type: Dict[str, int]
    unresolved: int


class Traversal(TypedDict):
    """What a TRAVERSE did (``plan_only`` for ``DEPTH 0`` or ``PLAN``)."""

    plan_only: bool
    max_depth: int
    stages: List[TraversalStage]
    edges: List[TraversedEdge]
    summary: EdgeSummary
    truncated: bool


class _RemAnswerRequired(TypedDict):
    kind: str
    query: Any
    results: List[RemHit]


class RemAnswer(_RemAnswerRequired, total=False):
    """The answer of a REM query: its kind (``lookup``, ``search``, ``fuzzy``,
    ``select``, ``traverse``), the query as the server parsed it, the results (best first
    where ranked) and, for TRAVERSE, the traversal."""

    traversal: Traversal
