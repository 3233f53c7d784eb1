"""One exception hierarchy for every failure of a call.

Every error the server answers (``{"error": {"code", "message", ...}}``, or the shorter
``{"error": "message"}``) becomes a :class:`P8fsError` subclass chosen by the status;
transport failures (connection refused or reset, timeouts) become :class:`Unavailable`.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Dict, Optional, Type


class P8fsError(Exception):
    """A call failed.

    ``status`` is the HTTP status (``None`` when no answer arrived), ``code`` the server's
    machine-readable code (``not_found``, ``invalid_key``, ``no_route``, ...; ``None`` when
    the body had none), ``message`` the text for people, ``request_id`` the id of the
    server's log line on 5xx answers.
    """

    def __init__(
        self,
        message: str,
        status: Optional[int] = None,
        code: Optional[str] = None,
        request_id: Optional[str] = None,
        body: Optional[Dict[str, Any]] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.body = body

    def __str__(self) -> str:
        parts = [str(self.status)] if self.status is not None else []
        if self.code:
            parts.append(self.code)
        prefix = " ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message


class NotFound(P8fsError):
    """404: no such key, entity or route (``code`` says which: ``no_route`` is a route)."""


class PermissionDenied(P8fsError):
    """401 (no token, or a token the server does not know) or 403 (a tenant the token does
    not grant, or a host or origin the server refuses)."""


class InvalidInput(P8fsError):
    """400, 413, 422 (and the other 4xx that mean the request itself was refused: 405,
    411, 415, 431): a malformed or refused request, a too large key, value or batch, a
    malformed or refused REM query."""


class Conflict(P8fsError):
    """409: the stored state refused the write (``binary_value`` on the legacy routes,
    ``condition_not_met`` of a compare-and-swap, see :class:`ConditionNotMet`)."""


class ConditionNotMet(Conflict):
    """A compare-and-swap found another value; ``current`` is the key's value now
    (``None``: the key is missing)."""

    def __init__(self, message: str, current: Optional[bytes], **kw: Any) -> None:
        super().__init__(message, **kw)
        self.current = current


class Unavailable(P8fsError):
    """The server could not be reached or could not serve: connection errors, 502, 503
    (``overloaded``, ``backend_unavailable``), 504. Retried for idempotent calls."""


class Timeout(Unavailable):
    """No answer within the client's timeout (``status`` is ``None``), or the server's own
    timeout (408, 504)."""


class Unsupported(P8fsError):
    """501: the server's backend does not support the operation."""


_BY_STATUS: Dict[int, Type[P8fsError]] = {
    400: InvalidInput,
    401: PermissionDenied,
    403: PermissionDenied,
    404: NotFound,
    405: InvalidInput,
    408: Timeout,
    409: Conflict,
    411: InvalidInput,
    413: InvalidInput,
    415: InvalidInput,
    422: InvalidInput,
    431: InvalidInput,
    501: Unsupported,
    502: Unavailable,
    503: Unavailable,
    504: Timeout,
}


def error_from_answer(status: int, raw: bytes, reason: str = "") -> P8fsError:
    """The exception for an answer of status ``status`` with body ``raw``.

    Reads both error bodies the server family writes: ``{"error": {"code", "message",
    "request_id"?}}`` and ``{"error": "message", "code"?: ...}``; any other body (a proxy's
    HTML page, nothing) keeps its first 200 characters as the message.
    """
    code: Optional[str] = None
    request_id: Optional[str] = None
    body: Optional[Dict[str, Any]] = None
    message = ""
    try:
        parsed = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError):
        parsed = None
    if isinstance(parsed, dict):
        body = parsed
        err = parsed.get("error")
        if isinstance(err, dict):
            code = _str_or_none(err.get("code"))
            message = _str_or_none(err.get("message")) or ""
            request_id = _str_or_none(err.get("request_id"))
        elif isinstance(err, str):
            message = err
            code = _str_or_none(parsed.get("code"))
            request_id = _str_or_none(parsed.get("request_id"))
    if not message:
        text = raw.decode("utf-8", "replace").strip()[:200]
        message = text or reason or f"HTTP {status}"
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = InvalidInput if 400 <= status < 500 else P8fsError
    if cls is Conflict and code == "condition_not_met":
        return ConditionNotMet(
            message,
            _current(err if isinstance(err, dict) else {}),
            status=status,
            code=code,
            request_id=request_id,
            body=body,
        )
    return cls(message, status=status, code=code, request_id=request_id, body=body)


def _str_or_none(v: Any) -> Optional[str]:
    return v if isinstance(v, str) else None


def _current(err: Dict[str, Any]) -> Optional[bytes]:
    cur = err.get("current")
    if not isinstance(cur, str):
        return None
    try:
        return base64.b64decode(cur, validate=True)
    except (binascii.Error, ValueError):
        return None
