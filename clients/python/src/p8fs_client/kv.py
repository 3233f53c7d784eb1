"""KV over HTTP, both wire contracts of ``p8fs serve``.

* :class:`Kv`: the ``/v1`` contract (values are bytes, sent as base64; keys travel as
  one base64url path segment or in JSON bodies; TTLs in milliseconds; scans page with a
  continuation; batch get/put/delete, compare-and-swap, delete by prefix).
* :class:`LegacyKv`: the routes of the system p8fs replaces (``/kv/...``; values are JSON
  documents sent as JSON text; TTLs in seconds), with the method names and arguments of
  its ``TiKVService``.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Union

from ._http import Transport, segment
from .errors import NotFound

__all__ = ["Kv", "LegacyKv", "KvEntry", "ScanPage"]

Bytes = Union[bytes, bytearray, memoryview, str]


@dataclass(frozen=True)
class KvEntry:
    """A key and its value."""

    key: str
    value: bytes

    def json(self) -> Any:
        """The value decoded as JSON."""
        return json.loads(self.value.decode("utf-8"))


@dataclass(frozen=True)
class ScanPage:
    """One page of a scan: the entries, sorted by key, and the continuation (``None`` when
    the range is exhausted)."""

    entries: List[KvEntry]
    next: Optional[str]


def _b64(v: Bytes) -> str:
    raw = v.encode("utf-8") if isinstance(v, str) else bytes(v)
    return base64.b64encode(raw).decode("ascii")


def _unb64(v: str) -> bytes:
    return base64.b64decode(v, validate=True)


def _key_segment(key: str) -> str:
    if not isinstance(key, str) or not key:
        raise ValueError(f"a key is a non-empty string, not {key!r}")
    return base64.urlsafe_b64encode(key.encode("utf-8")).rstrip(b"=").decode("ascii")


def _ttl_ms(ttl_ms: Optional[int]) -> Optional[int]:
    if ttl_ms is None:
        return None
    if ttl_ms < 0:
        raise ValueError("ttl_ms must not be negative")
    return int(ttl_ms)


class Kv:
    """The ``/v1`` KV routes of one namespace: a tenant (``client.kv(tenant)``) or the
    global namespace (``client.global_kv()``).

    Values are bytes (a ``str`` is sent as its UTF-8); :meth:`get_json` and
    :meth:`put_json` store the JSON text itself. A missing key reads as ``None``; deleting
    a missing key succeeds.
    """

    def __init__(self, transport: Transport, tenant: Optional[str]) -> None:
        self._t = transport
        self.tenant = tenant
        self._prefix = f"/v1/kv/{segment(tenant)}" if tenant is not None else "/v1/global"

    def __repr__(self) -> str:
        return f"Kv(tenant={self.tenant!r})"

    def _path(self, tail: str) -> str:
        return f"{self._prefix}/{tail}"

    def get(self, key: str) -> Optional[bytes]:
        """The key's value, ``None`` when it is missing or expired."""
        try:
            body = self._t.json("GET", self._path(f"k/{_key_segment(key)}"), idempotent=True)
        except NotFound as e:
            if e.code == "no_route":
                raise
            return None
        return _unb64(body["value"])

    def get_json(self, key: str) -> Any:
        """The key's value decoded as JSON, ``None`` when missing."""
        v = self.get(key)
        return None if v is None else json.loads(v.decode("utf-8"))

    def put(self, key: str, value: Bytes, ttl_ms: Optional[int] = None) -> None:
        """Writes the key; ``ttl_ms`` (absent or 0: never) makes it expire."""
        body: Dict[str, Any] = {"value": _b64(value)}
        if _ttl_ms(ttl_ms):
            body["ttl_ms"] = ttl_ms
        self._t.request("PUT", self._path(f"k/{_key_segment(key)}"), idempotent=True, body=body)

    def put_json(self, key: str, value: Any, ttl_ms: Optional[int] = None) -> None:
        """Writes ``value`` as JSON text."""
        self.put(key, json.dumps(value, ensure_ascii=False), ttl_ms)

    def delete(self, key: str) -> None:
        """Deletes the key (a missing key is fine)."""
        self._t.request("DELETE", self._path(f"k/{_key_segment(key)}"), idempotent=True)

    def batch_get(self, keys: Sequence[str]) -> Dict[str, bytes]:
        """The keys found (missing and expired ones are absent), in the order asked."""
        if not keys:
            return {}
        body = self._t.json("POST", self._path("batch/get"), idempotent=True, body={"keys": list(keys)})
        return {e["key"]: _unb64(e["value"]) for e in body["entries"]}

    def batch_put(self, entries: Mapping[str, Bytes], ttl_ms: Optional[int] = None) -> int:
        """Writes every entry in one request (atomic where the backend is); returns how
        many were written."""
        if not entries:
            return 0
        body: Dict[str, Any] = {"entries": [{"key": k, "value": _b64(v)} for k, v in entries.items()]}
        if _ttl_ms(ttl_ms):
            body["ttl_ms"] = ttl_ms
        # Writing the same values again leaves the same state: safe to retry.
        return int(self._t.json("POST", self._path("batch/put"), idempotent=True, body=body)["written"])

    def batch_delete(self, keys: Sequence[str]) -> int:
        """Deletes the keys; returns how many were asked."""
        if not keys:
            return 0
        body = self._t.json("POST", self._path("batch/delete"), idempotent=True, body={"keys": list(keys)})
        return int(body["deleted"])

    def compare_and_swap(self, key: str, expected: Optional[Bytes], value: Bytes,
                         ttl_ms: Optional[int] = None) -> None:
        """Writes ``value`` if the key holds ``expected`` (``None``: the key is missing).

        Raises :class:`~p8fs_client.errors.ConditionNotMet` (with ``current``) otherwise;
        never retried (a retry of a swap that happened would fail).
        """
        body: Dict[str, Any] = {"key": key, "expected": None if expected is None else _b64(expected),
                                "value": _b64(value)}
        if _ttl_ms(ttl_ms):
            body["ttl_ms"] = ttl_ms
        self._t.request("POST", self._path("cas"), idempotent=False, body=body)

    def scan(self, prefix: str = "", limit: Optional[int] = None, after: Optional[str] = None) -> ScanPage:
        """One page of the keys starting with ``prefix``, sorted by key; pass the page's
        ``next`` as ``after`` to continue (or use :meth:`scan_all`)."""
        return self._scan([("prefix", prefix)], limit, after)

    def scan_range(self, start: str, end: Optional[str] = None, limit: Optional[int] = None,
                   after: Optional[str] = None) -> ScanPage:
        """One page of the keys in ``[start, end)`` (``end`` ``None``: to the last key)."""
        return self._scan([("start", start), ("end", end)], limit, after)

    def scan_all(self, prefix: str = "", page_size: Optional[int] = None) -> Iterator[KvEntry]:
        """Every key starting with ``prefix``, following the continuations."""
        after: Optional[str] = None
        while True:
            page = self.scan(prefix, page_size, after)
            yield from page.entries
            if page.next is None:
                return
            after = page.next

    def _scan(self, range_: List[Any], limit: Optional[int], after: Optional[str]) -> ScanPage:
        if limit is not None and limit <= 0:
            raise ValueError("limit must be positive")
        query = range_ + [("limit", limit), ("after", after)]
        body = self._t.json("GET", self._path("scan"), idempotent=True, query=query)
        entries = [KvEntry(e["key"], _unb64(e["value"])) for e in body["entries"]]
        return ScanPage(entries, body.get("next"))

    def delete_prefix(self, prefix: str) -> int:
        """Deletes every key starting with ``prefix`` (not empty); returns how many."""
        if not prefix:
            raise ValueError("delete_prefix needs a non-empty prefix")
        return int(self._t.json("POST", self._path("delete-prefix"), idempotent=True,
                                body={"prefix": prefix})["deleted"])


def _legacy_path(tenant_id: str, key: str) -> str:
    # Each '/'-separated part percent-encoded, the separators kept: the legacy routes
    # take the physical key as a path, which the server percent-decodes.
    return "/kv/" + "/".join(urllib.parse.quote(p, safe="") for p in f"{tenant_id}/{key}".split("/"))


class LegacyKv:
    """The legacy ``/kv`` routes, with the methods of the replaced system's
    ``TiKVService`` (``get``, ``put``, ``scan``, ``delete``, ``batch_get``; same argument
    names and order).

    Values are JSON documents (sent as JSON text inside JSON); physical keys are
    ``{tenant_id}/{key}``. Unlike ``TiKVService``, errors are the client's exceptions and
    only idempotent calls are retried (all of these are).
    """

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def get(self, key: str, tenant_id: str) -> Any:
        """The key's value, ``None`` when missing."""
        try:
            body = self._t.json("GET", _legacy_path(tenant_id, key), idempotent=True)
        except NotFound as e:
            if e.code == "no_route":
                raise
            return None
        value = body.get("value")
        return json.loads(value) if value else None

    def put(self, key: str, value: Any, tenant_id: str, ttl_seconds: Optional[int] = None) -> None:
        """Writes the key; ``ttl_seconds`` (absent or 0: never) makes it expire."""
        payload: Dict[str, Any] = {"key": f"{tenant_id}/{key}", "value": json.dumps(value)}
        if ttl_seconds:
            if ttl_seconds < 0:
                raise ValueError("ttl_seconds must not be negative")
            payload["ttl"] = int(ttl_seconds)
        self._t.request("PUT", "/kv", idempotent=True, body=payload)

    def delete(self, key: str, tenant_id: str) -> None:
        """Deletes the key (a missing key is fine)."""
        self._t.request("DELETE", _legacy_path(tenant_id, key), idempotent=True)

    def scan(self, prefix: str, tenant_id: str, limit: int = 100) -> List[Dict[str, Any]]:
        """Up to ``limit`` ``{"key", "value"}`` entries whose keys start with ``prefix``,
        sorted, keys without the tenant."""
        body = self._t.json("GET", "/kv/scan", idempotent=True,
                            query=[("prefix", f"{tenant_id}/{prefix}"), ("limit", limit)])
        strip = f"{tenant_id}/"
        out = []
        for item in body:
            if item.get("value"):
                k = item["key"]
                out.append({"key": k[len(strip):] if k.startswith(strip) else k,
                            "value": json.loads(item["value"])})
        return out

    def batch_get(self, keys: Sequence[str], tenant_id: str) -> Dict[str, Any]:
        """``{key: value}`` of the keys found (keys without the tenant)."""
        if not keys:
            return {}
        body = self._t.json("POST", "/kv/batch", idempotent=True,
                            body={"keys": [f"{tenant_id}/{k}" for k in keys]})
        strip = f"{tenant_id}/"
        out: Dict[str, Any] = {}
        for item in body:
            if item.get("value"):
                k = item["key"]
                out[k[len(strip):] if k.startswith(strip) else k] = json.loads(item["value"])
        return out
