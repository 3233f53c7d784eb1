"""A typed client of ``p8fs serve``: KV (the ``/v1`` contract and the legacy ``/kv``
routes), entities with reverse mappings, semantic search, REM queries and graph edges.

Standard library only::

    from p8fs_client import P8fsClient

    with P8fsClient("http://127.0.0.1:8080", token="...") as c:
        c.kv("tenant-a").put_json("settings/theme", {"dark": True})
        stored = c.store_entity_with_reverse_mapping("doc-1", "resources", {"content": "..."}, "tenant-a")
        answer = c.rem("LOOKUP doc-1", "tenant-a")
"""

from .client import P8fsClient
from .errors import (
    ConditionNotMet,
    Conflict,
    InvalidInput,
    NotFound,
    P8fsError,
    PermissionDenied,
    Timeout,
    Unavailable,
    Unsupported,
)
from .kv import Kv, KvEntry, LegacyKv, ScanPage
from .types import (
    Edge,
    EdgeChange,
    Entity,
    RemAnswer,
    RemHit,
    SearchAnswer,
    SearchHit,
    StoredEntity,
    Traversal,
)

__version__ = "0.1.0"

__all__ = [
    "P8fsClient",
    "Kv",
    "LegacyKv",
    "KvEntry",
    "ScanPage",
    "P8fsError",
    "NotFound",
    "PermissionDenied",
    "InvalidInput",
    "Conflict",
    "ConditionNotMet",
    "Unavailable",
    "Timeout",
    "Unsupported",
    "Entity",
    "StoredEntity",
    "Edge",
    "EdgeChange",
    "SearchHit",
    "SearchAnswer",
    "RemHit",
    "RemAnswer",
    "Traversal",
]
