"""HTTPS: the client against ``p8fs serve --tls-cert --tls-key`` (a certificate of the test
services' CA, for 127.0.0.1). Given the CA in an ``ssl_context`` it is served; with the
default context (the system's roots) it is refused with ``Unavailable`` saying the
certificate could not be verified, and nothing reaches the server.

Needs ``P8FS_BIN`` and ``P8FS_TEST_TLS_CERT``/``_KEY``/``_CA``, which ``cargo xtask test``
sets; skipped without them.
"""

from __future__ import annotations

import os
import secrets
import ssl
import subprocess
import tempfile
from typing import Iterator, Tuple

import pytest

from p8fs_client import P8fsClient, Unavailable


@pytest.fixture(scope="module")
def https_server() -> Iterator[Tuple[str, str, str, str]]:
    """(URL, token, tenant, CA file) of a p8fs serving HTTPS."""
    names = ("P8FS_BIN", "P8FS_TEST_TLS_CERT", "P8FS_TEST_TLS_KEY", "P8FS_TEST_TLS_CA")
    values = [os.environ.get(n) for n in names]
    if not all(values):
        pytest.skip("P8FS_BIN and P8FS_TEST_TLS_CERT/_KEY/_CA are not set: no HTTPS server to start")
    binary, cert, key, ca = (v or "" for v in values)
    token, tenant = secrets.token_hex(16), f"py-tls-{secrets.token_hex(4)}"
    with tempfile.TemporaryDirectory() as d:
        tokens = os.path.join(d, "tokens")
        with open(tokens, "w") as f:
            f.write(f"{token} {tenant}\n")
        os.chmod(tokens, 0o600)
        env = {k: v for k, v in os.environ.items() if not k.startswith("P8FS_")}
        proc = subprocess.Popen(
            [binary, "--data-dir", os.path.join(d, "data"), "serve", "--listen", "127.0.0.1:0",
             "--tls-cert", cert, "--tls-key", key, "--auth-tokens", tokens],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env, text=True)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            assert line.startswith("listening on https://"), line
            yield line.removeprefix("listening on "), token, tenant, ca
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def test_a_client_given_the_ca_is_served_over_https(https_server: Tuple[str, str, str, str]) -> None:
    url, token, tenant, ca = https_server
    ctx = ssl.create_default_context(cafile=ca)
    with P8fsClient(url, token=token, timeout=30.0, trust_env=False, ssl_context=ctx) as c:
        kv = c.kv(tenant)
        kv.put("tls/k", b"over https")
        assert kv.get("tls/k") == b"over https"
        assert [e.key for e in kv.scan("tls/").entries] == ["tls/k"]


def test_a_client_that_does_not_trust_the_ca_is_refused(https_server: Tuple[str, str, str, str]) -> None:
    url, token, tenant, ca = https_server
    with P8fsClient(url, token=token, timeout=30.0, retries=0, trust_env=False) as c:
        with pytest.raises(Unavailable, match="CERTIFICATE_VERIFY_FAILED"):
            c.kv(tenant).put("tls/refused", b"x")
    ctx = ssl.create_default_context(cafile=ca)
    with P8fsClient(url, token=token, timeout=30.0, trust_env=False, ssl_context=ctx) as c:
        assert c.kv(tenant).get("tls/refused") is None
