"""The client: KV views, entities, semantic search, REM queries and graph edges of one
``p8fs serve``."""

from __future__ import annotations

import math
import ssl
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from ._http import Transport, segment
from .errors import NotFound
from .kv import Kv, LegacyKv
from .types import Edge, EdgeChange, Entity, RemAnswer, SearchAnswer, SearchHit, StoredEntity

__all__ = ["P8fsClient"]

#: An entity to store: ``(name, data)`` or ``{"name": ..., "data": {...}}``.
EntityInput = Union[Tuple[str, Mapping[str, Any]], Mapping[str, Any]]


class P8fsClient:
    """A client of one ``p8fs serve``.

    ``token`` is the bearer token (the server binds it to tenants); ``timeout`` bounds each
    network operation of a call, in seconds; idempotent calls are retried ``retries``
    times on connection errors and 502/503/504, pausing ``backoff * 2**attempt`` seconds
    or the answer's ``Retry-After`` (see the README for which calls are idempotent).
    ``trust_env=False`` ignores the ``*_proxy`` environment variables.

    Use it as a context manager or call :meth:`close` (it holds no connection between
    calls today; both are there so code written now keeps working when it does).
    """

    def __init__(
        self,
        base_url: str,
        token: Optional[str] = None,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.2,
        *,
        trust_env: bool = True,
        ssl_context: Optional[ssl.SSLContext] = None,
    ) -> None:
        self._t = Transport(base_url, token, timeout, retries, backoff, trust_env=trust_env,
                            ssl_context=ssl_context)
        self.legacy = LegacyKv(self._t)
        """The legacy ``/kv`` routes (the replaced system's ``TiKVService`` calls)."""

    def __repr__(self) -> str:
        return f"P8fsClient({self._t.base_url!r})"

    def __enter__(self) -> "P8fsClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Releases the client's resources."""

    @property
    def base_url(self) -> str:
        """The server's base URL."""
        return self._t.base_url

    # ---- KV ------------------------------------------------------------------------

    def kv(self, tenant: str) -> Kv:
        """The ``/v1`` KV routes of ``tenant``."""
        _check_text("tenant", tenant)
        return Kv(self._t, tenant)

    def global_kv(self) -> Kv:
        """The ``/v1`` KV routes of the global namespace (tokens granted ``*`` only)."""
        return Kv(self._t, None)

    def capability(self) -> Dict[str, Any]:
        """``GET /v1/capability``: what the KV backend supports, with the server's limits."""
        body: Dict[str, Any] = self._t.json("GET", "/v1/capability", idempotent=True)
        return body

    def ready(self) -> bool:
        """Whether ``/readyz`` answers 200 (its backend answers)."""
        try:
            self._t.request("GET", "/readyz", idempotent=False)
        except Exception:  # noqa: BLE001 - any failure means "not ready"
            return False
        return True

    # ---- entities ------------------------------------------------------------------

    def _entities(self, tenant: str, *tail: str) -> str:
        _check_text("tenant", tenant)
        return "/v1/entities/" + "/".join(segment(p) for p in (tenant,) + tail)

    def store_entity_with_reverse_mapping(self, name: str, entity_type: str, data: Mapping[str, Any],
                                          tenant: str) -> StoredEntity:
        """Stores (upserts by name) one entity with its reverse mappings and embeddings.

        ``PUT``: storing the same entity again leaves the same state, so it is retried.
        """
        _check_text("name", name)
        path = self._entities(tenant, _type(entity_type))
        body: StoredEntity = self._t.json("PUT", path, idempotent=True,
                                          body={"name": name, "data": dict(data)})
        return body

    def store_entities(self, entity_type: str, tenant: str, entities: Iterable[EntityInput]) -> List[StoredEntity]:
        """Stores several entities of one type in one request (at most the server's batch
        limit); answers in input order. Not retried (a ``POST`` write)."""
        items = [_entity_input(e) for e in entities]
        if not items:
            return []
        path = self._entities(tenant, _type(entity_type), "batch")
        body = self._t.json("POST", path, idempotent=False, body={"entities": items})
        stored: List[StoredEntity] = body["stored"]
        return stored

    def get_entity(self, entity_type: str, id: str, tenant: str) -> Optional[Entity]:
        """The entity with this id, ``None`` when the tenant has none."""
        _check_text("id", id)
        return self._maybe_entity(self._entities(tenant, _type(entity_type), "id", id))

    def get_entity_by_name(self, name: str, entity_type: str, tenant: str) -> Optional[Entity]:
        """The entity with this name (through the reverse mapping), ``None`` when missing."""
        _check_text("name", name)
        return self._maybe_entity(self._entities(tenant, _type(entity_type), "name", name))

    def _maybe_entity(self, path: str) -> Optional[Entity]:
        try:
            body = self._t.json("GET", path, idempotent=True)
        except NotFound as e:
            if e.code == "no_route":
                raise
            return None
        entity: Entity = body["entity"]
        return entity

    def get_entities_by_storage_key(self, storage_key: str, tenant: str) -> List[Entity]:
        """The entities a storage key ``TYPE/ID`` names (empty when none)."""
        _check_text("storage_key", storage_key)
        try:
            body = self._t.json("GET", self._entities(tenant, "storage-key"), idempotent=True,
                                query=[("key", storage_key)])
        except NotFound as e:
            if e.code == "no_route":
                raise
            return []
        entities: List[Entity] = body["entities"]
        return entities

    def select(self, entity_type: str, tenant: str, filters: Optional[Mapping[str, Any]] = None,
               order_by: Optional[Sequence[str]] = None, limit: Optional[int] = None,
               offset: Optional[int] = None) -> List[Entity]:
        """Entities matching ``filters`` in the provider's grammar (``field`` for equality,
        ``field__gt|gte|lt|lte|in|like|ilike|contains|overlap``, ``None`` for IS NULL),
        ordered by ``order_by`` (``-field`` descending), ``limit`` (server default 100, at
        most 1000) and ``offset``. A read: retried."""
        body: Dict[str, Any] = {}
        if filters:
            body["filters"] = dict(filters)
        if order_by:
            if isinstance(order_by, str):
                raise TypeError("order_by is a list of fields, e.g. ['-created_at']")
            body["order_by"] = list(order_by)
        if limit is not None:
            body["limit"] = _non_negative("limit", limit)
        if offset is not None:
            body["offset"] = _non_negative("offset", offset)
        answer = self._t.json("POST", self._entities(tenant, _type(entity_type), "select"), idempotent=True,
                              body=body)
        entities: List[Entity] = answer["entities"]
        return entities

    def semantic_search(self, entity_type: str, tenant: str, query: str, limit: Optional[int] = None,
                        threshold: Optional[float] = None, fields: Optional[Sequence[str]] = None,
                        exact: Optional[bool] = None, mode: Optional[str] = None,
                        rrf_k: Optional[float] = None, text_weight: Optional[float] = None) -> SearchAnswer:
        """Search by text, best first (``limit`` default 10, at most 1000; ``threshold``:
        the lowest vector score kept; ``fields``: only these embedded fields; ``exact``: no
        vector index). ``mode``: ``"vector"`` (default, by meaning through the server's
        embedder), ``"text"`` (by words, the engine's full-text search) or ``"hybrid"``
        (both, fused by weighted scores, ``text_weight`` from 0 to 1, default 0.2 on the
        server, or by reciprocal rank fusion with ``rrf_k``, 60 being usual). A read:
        retried."""
        _check_text("query", query)
        body: Dict[str, Any] = {"query": query}
        if mode is not None:
            if mode not in ("vector", "text", "hybrid"):
                raise ValueError(f"mode must be 'vector', 'text' or 'hybrid', not {mode!r}")
            body["mode"] = mode
        if rrf_k is not None and text_weight is not None:
            raise ValueError("give rrf_k or text_weight, not both")
        if rrf_k is not None:
            if not math.isfinite(rrf_k) or rrf_k <= 0:
                raise ValueError("rrf_k must be a positive number")
            body["rrf_k"] = float(rrf_k)
        if text_weight is not None:
            if not math.isfinite(text_weight) or not 0.0 <= text_weight <= 1.0:
                raise ValueError("text_weight must be a number from 0 to 1")
            body["text_weight"] = float(text_weight)
        if limit is not None:
            body["limit"] = _non_negative("limit", limit)
        if threshold is not None:
            if not math.isfinite(threshold):
                raise ValueError("threshold must be a finite number")
            body["threshold"] = float(threshold)
        if fields:
            if isinstance(fields, str):
                raise TypeError("fields is a list of field names")
            body["fields"] = list(fields)
        if exact is not None:
            body["exact"] = bool(exact)
        answer: SearchAnswer = self._t.json("POST", self._entities(tenant, _type(entity_type), "search"),
                                            idempotent=True, body=body)
        return answer

    def semantic_search_sql(self, entity_type: str, query_text: str, field_name: Optional[str] = None,
                            limit: int = 10, threshold: float = 0.7, metric: str = "cosine",
                            *, tenant_id: str) -> List[SearchHit]:
        """The replaced provider's ``semantic_search_sql`` arguments (``field_name``,
        ``limit``, ``threshold`` 0.7, ``metric``, ``tenant_id``), run as
        :meth:`semantic_search`: it takes the query text (the server embeds it) where the
        replaced call took a vector, and returns the hits instead of SQL to run. Only the
        ``cosine`` metric is served."""
        if metric != "cosine":
            raise ValueError(f"metric {metric!r} is not served over HTTP; use 'cosine'")
        fields = [field_name] if field_name else None
        return self.semantic_search(entity_type, tenant_id, query_text, limit=limit, threshold=threshold,
                                    fields=fields)["hits"]

    def delete_entity(self, entity_type: str, id: str, tenant: str) -> bool:
        """Deletes the entity, its embeddings and its mappings; ``False`` when it was not
        there."""
        _check_text("id", id)
        body = self._t.json("DELETE", self._entities(tenant, _type(entity_type), "id", id), idempotent=True)
        return bool(body["deleted"])

    # ---- REM -----------------------------------------------------------------------

    def rem(self, query: str, tenant: str, threshold: Optional[float] = None,
            mode: Optional[str] = None) -> RemAnswer:
        """Runs a REM query (``LOOKUP``, ``GET``, ``SEARCH``, ``FUZZY``, ``SELECT``,
        ``TRAVERSE``; anything else is a ``SEARCH``) for the tenant. ``threshold``: a
        ``SEARCH`` keeps only hits with at least this score; ``mode``: how ``SEARCH`` finds
        them (``"vector"``, ``"text"``, ``"hybrid"``). A malformed or refused query
        raises :class:`~p8fs_client.errors.InvalidInput` naming the part. A read:
        retried."""
        _check_text("query", query)
        _check_text("tenant", tenant)
        body: Dict[str, Any] = {"query": query}
        if threshold is not None:
            body["threshold"] = threshold
        if mode is not None:
            if mode not in ("vector", "text", "hybrid"):
                raise ValueError(f"mode must be 'vector', 'text' or 'hybrid', not {mode!r}")
            body["mode"] = mode
        answer: RemAnswer = self._t.json("POST", f"/v1/rem/{segment(tenant)}", idempotent=True, body=body)
        return answer

    # ---- graph edges ---------------------------------------------------------------

    def edges(self, entity_type: str, id: str, tenant: str) -> List[Edge]:
        """The entity's edges (``NotFound`` when there is no such entity)."""
        _check_text("id", id)
        body = self._t.json("GET", self._entities(tenant, _type(entity_type), "id", id, "edges"), idempotent=True)
        edges: List[Edge] = body["edges"]
        return edges

    def add_edges(self, entity_type: str, id: str, edges: Iterable[Union[Edge, Mapping[str, Any]]],
                  tenant: str) -> EdgeChange:
        """Adds edges, merged by ``(dst, rel_type)``: an edge with the destination and
        relation type of an existing one replaces it. Not retried (a ``POST`` write)."""
        _check_text("id", id)
        items = [dict(e) for e in edges]
        for e in items:
            _check_text("dst", e.get("dst"))
            _check_text("rel_type", e.get("rel_type"))
        path = self._entities(tenant, _type(entity_type), "id", id, "edges")
        change: EdgeChange = self._t.json("POST", path, idempotent=False, body={"edges": items})
        return change

    def remove_edges(self, entity_type: str, id: str, dst: str, tenant: str,
                     rel_type: Optional[str] = None) -> EdgeChange:
        """Removes the edges to ``dst`` (only those of ``rel_type`` when given)."""
        _check_text("id", id)
        _check_text("dst", dst)
        path = self._entities(tenant, _type(entity_type), "id", id, "edges")
        change: EdgeChange = self._t.json("DELETE", path, idempotent=True,
                                          query=[("dst", dst), ("rel_type", rel_type)])
        return change


def _check_text(what: str, v: Any) -> None:
    if not isinstance(v, str) or not v:
        raise ValueError(f"{what} must be a non-empty string, not {v!r}")


def _type(entity_type: str) -> str:
    _check_text("entity_type", entity_type)
    return entity_type


def _non_negative(what: str, v: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"{what} must be a non-negative integer, not {v!r}")
    return v


def _entity_input(e: EntityInput) -> Dict[str, Any]:
    name: Any
    data: Any
    if isinstance(e, tuple):
        name, data = e
    else:
        name, data = e.get("name"), e.get("data", {})
    _check_text("name", name)
    return {"name": name, "data": dict(data)}
