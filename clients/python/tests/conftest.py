"""Fixtures of the suite.

Tests that need a server read it from the environment: ``P8FS_URL``, ``P8FS_TOKEN``
(tenant ``P8FS_TENANT_A``), ``P8FS_TOKEN_B`` (tenant ``P8FS_TENANT_B``). Without
``P8FS_URL`` they are skipped (the transport tests, which run their own little servers,
still run). Entity, search, REM and edge tests need the server's entity routes (a SQL
provider): they are skipped when those answer 404 ``no_route`` unless
``P8FS_TEST_ENTITIES=1``, which ``cargo xtask test`` sets, so there they fail instead.

``P8FS_PYTEST_RESULT_FILE``, when set, receives the counts as JSON for ``cargo xtask``.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any, Dict, Iterator

import pytest

from p8fs_client import NotFound, P8fsClient


def _required(name: str) -> str:
    v = os.environ.get(name)
    if not v:
        pytest.fail(f"{name} must be set when P8FS_URL is")
    return v


@pytest.fixture(scope="session")
def url() -> str:
    v = os.environ.get("P8FS_URL")
    if not v:
        pytest.skip("P8FS_URL is not set: no p8fs server to test against")
    return v


@pytest.fixture(scope="session")
def tenant_a(url: str) -> str:
    return _required("P8FS_TENANT_A")


@pytest.fixture(scope="session")
def tenant_b(url: str) -> str:
    return _required("P8FS_TENANT_B")


@pytest.fixture(scope="session")
def token_a(url: str) -> str:
    return _required("P8FS_TOKEN")


@pytest.fixture(scope="session")
def token_b(url: str) -> str:
    return _required("P8FS_TOKEN_B")


@pytest.fixture(scope="session")
def client(url: str, token_a: str) -> Iterator[P8fsClient]:
    """Tenant A's client."""
    with P8fsClient(url, token=token_a, timeout=30.0, trust_env=False) as c:
        yield c


@pytest.fixture(scope="session")
def client_b(url: str, token_b: str) -> Iterator[P8fsClient]:
    """Tenant B's client."""
    with P8fsClient(url, token=token_b, timeout=30.0, trust_env=False) as c:
        yield c


@pytest.fixture(scope="session")
def anonymous(url: str) -> Iterator[P8fsClient]:
    """A client without a token."""
    with P8fsClient(url, timeout=30.0, trust_env=False) as c:
        yield c


@pytest.fixture()
def uid() -> str:
    """A fresh suffix, so runs against a database that outlives them never collide."""
    return uuid.uuid4().hex[:12]


@pytest.fixture(scope="session")
def entities(client: P8fsClient, tenant_a: str) -> bool:
    """Skips the test when the server has no entity routes, unless P8FS_TEST_ENTITIES=1."""
    try:
        client.select("resources", tenant_a, limit=1)
    except NotFound as e:
        if os.environ.get("P8FS_TEST_ENTITIES") != "1":
            pytest.skip(f"the server has no entity routes ({e}); set P8FS_TEST_ENTITIES=1 to fail instead")
        raise
    return True


def pytest_terminal_summary(terminalreporter: Any) -> None:
    path = os.environ.get("P8FS_PYTEST_RESULT_FILE")
    if not path:
        return
    stats: Dict[str, int] = {}
    for key in ("passed", "failed", "skipped", "error", "xfailed", "xpassed"):
        stats[key] = len(terminalreporter.stats.get(key, []))
    with open(path, "w", encoding="utf-8") as f:
        json.dump(stats, f)
