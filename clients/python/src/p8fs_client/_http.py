"""The transport: one HTTP request with a timeout, retries of idempotent calls, and errors
turned into the :mod:`p8fs_client.errors` hierarchy. Standard library only."""

from __future__ import annotations

import http.client
import json
import random
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from .errors import P8fsError, Timeout, Unavailable, error_from_answer

__all__ = ["Transport", "Answer", "segment", "RETRY_STATUSES"]

#: Answers after which an idempotent call is tried again.
RETRY_STATUSES = frozenset({502, 503, 504})
#: The longest ``Retry-After`` the client waits for; a longer one ends the retries.
MAX_RETRY_AFTER = 30.0
#: The longest pause between two attempts without ``Retry-After``.
MAX_BACKOFF = 10.0

QueryValue = Union[str, int, float, bool, None]


def segment(value: str) -> str:
    """``value`` as one URL path segment: every byte but the unreserved characters
    percent-encoded (``/``, ``%``, ``?``, ``#``, spaces, non-ASCII as UTF-8), and a segment
    of dots only (``.``, ``..``) encoded too, so nothing between client and server can
    resolve it into another path."""
    encoded = urllib.parse.quote(value, safe="")
    if encoded and set(encoded) == {"."}:
        encoded = "%2E" * len(encoded)
    return encoded


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, headers (names lower-case) and body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON (``None`` for an empty body)."""
        if not self.body:
            return None
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise P8fsError(f"the server answered {self.status} with a body that is not JSON: {e}",
                            status=self.status) from e


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """The server never redirects; following one would send the bearer token to wherever
    a proxy or an attacker points. A 3xx comes back as an answer, then as an error."""

    def redirect_request(self, req: Any, fp: Any, code: Any, msg: Any, headers: Any, newurl: Any) -> None:
        return None


class Transport:
    """Sends requests to one server.

    ``timeout`` (seconds) bounds each network operation of a request (connecting, sending,
    each wait for bytes of the answer). An idempotent call is tried up to ``1 + retries``
    times, on connection errors and on 502/503/504, pausing ``backoff * 2**attempt``
    seconds (with jitter, at most 10 s) or the answer's ``Retry-After``; a timeout is never
    retried (the server may still be working on the request). Non-idempotent calls are
    tried once.
    """

    def __init__(
        self,
        base_url: str,
        token: Optional[str] = None,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.2,
        trust_env: bool = True,
        ssl_context: Optional[ssl.SSLContext] = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"base_url must be an http:// or https:// URL, not {base_url!r}")
        if parsed.query or parsed.fragment:
            raise ValueError("base_url must not have a query or a fragment")
        if parsed.username or parsed.password:
            raise ValueError("base_url must not carry credentials; pass token=")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if retries < 0 or backoff < 0:
            raise ValueError("retries and backoff must not be negative")
        self.base_url = base_url.rstrip("/")
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self._token = token
        self._sleep = sleep
        handlers: List[Any] = [
            urllib.request.ProxyHandler(None if trust_env else {}),
            urllib.request.HTTPSHandler(context=ssl_context),
            _NoRedirects(),
        ]
        self._opener = urllib.request.build_opener(*handlers)

    def __repr__(self) -> str:
        return f"Transport({self.base_url!r}, token={'***' if self._token else None})"

    def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        query: Optional[Sequence[Tuple[str, QueryValue]]] = None,
        body: Any = None,
        ok: Iterable[int] = (200, 201, 204),
        timeout: Optional[float] = None,
    ) -> Answer:
        """Sends ``method path`` (``path`` already encoded, starting with ``/``) with
        ``body`` as JSON, and returns the answer when its status is in ``ok``.

        Raises the :mod:`p8fs_client.errors` exception of any other status, and
        :class:`Unavailable` / :class:`Timeout` when no answer arrives.
        """
        url = self.base_url + path
        if query:
            pairs = [(k, _query_text(v)) for k, v in query if v is not None]
            if pairs:
                url += "?" + urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote)
        data = None
        headers = {"Accept": "application/json", "User-Agent": "p8fs-client-python/0.1"}
        if body is not None:
            data = json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        ok_set = frozenset(ok)
        attempts = 1 + (self.retries if idempotent else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                answer = self._send(method, url, data, headers, timeout or self.timeout)
            except Timeout:
                raise
            except Unavailable:
                if last:
                    raise
                self._sleep(self._pause(attempt))
                continue
            if answer.status in ok_set:
                return answer
            err = error_from_answer(answer.status, answer.body)
            if answer.status in RETRY_STATUSES and not last:
                wait = _retry_after(answer.headers.get("retry-after"))
                if wait is not None and wait > MAX_RETRY_AFTER:
                    raise err
                self._sleep(self._pause(attempt) if wait is None else wait)
                continue
            raise err
        raise AssertionError("unreachable: the last attempt returns or raises")

    def json(self, method: str, path: str, **kw: Any) -> Any:
        """:meth:`request`, then the answer's body as JSON."""
        return self.request(method, path, **kw).json()

    def _pause(self, attempt: int) -> float:
        base = min(self.backoff * float(2**attempt), MAX_BACKOFF)
        return base * (0.5 + random.random() / 2)

    def _send(self, method: str, url: str, data: Optional[bytes], headers: Mapping[str, str],
              timeout: float) -> Answer:
        req = urllib.request.Request(url, data=data, headers=dict(headers), method=method)
        try:
            with self._opener.open(req, timeout=timeout) as resp:
                body = resp.read()
                return Answer(resp.status, {k.lower(): v for k, v in resp.headers.items()}, body)
        except urllib.error.HTTPError as e:
            # build_opener's error processor raises every answer but 2xx: read it as an
            # answer (its status picks the exception).
            try:
                body = e.read()
            except (OSError, http.client.HTTPException):
                body = b""
            return Answer(e.code, {k.lower(): v for k, v in (e.headers or {}).items()}, body)
        except urllib.error.URLError as e:
            if isinstance(e.reason, (socket.timeout, TimeoutError)):
                raise Timeout(f"no answer from {self.base_url} within {timeout}s ({method})") from e
            raise Unavailable(f"cannot reach {self.base_url}: {e.reason}") from e
        except (socket.timeout, TimeoutError) as e:
            raise Timeout(f"no answer from {self.base_url} within {timeout}s ({method})") from e
        except (OSError, http.client.HTTPException) as e:
            raise Unavailable(f"connection to {self.base_url} failed: {e!r}") from e


def _query_text(v: QueryValue) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _retry_after(v: Optional[str]) -> Optional[float]:
    """Seconds of a ``Retry-After`` header (the delay form; an HTTP date counts as absent)."""
    if v is None:
        return None
    try:
        secs = float(v.strip())
    except ValueError:
        return None
    return secs if secs >= 0 else None
