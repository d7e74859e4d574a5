"""Safe by default: credentials on every route when configured, none off loopback refused."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import httpx
from elasticsearch import AuthenticationException, Elasticsearch

from tests.server.live import ROOT, Server


def test_credentials_are_checked_on_every_route(tmp_path: Path) -> None:
    server = Server(tmp_path, "--user", "shipper:s3cret", "--api-key", "key-123").start()
    try:
        for path in ("/", "/_bulk", "/logs/_search", "/_license"):
            response = httpx.get(server.url + path)
            assert response.status_code == 401, path
            assert response.json()["error"]["type"] == "security_exception"
            assert "Basic" in response.headers["www-authenticate"]
            assert response.headers["x-elastic-product"] == "Elasticsearch"
        wrong = httpx.get(server.url + "/", auth=("shipper", "nope"))
        assert wrong.status_code == 401
        assert httpx.get(server.url + "/", auth=("shipper", "s3cret")).status_code == 200
        encoded = base64.b64encode(b"key-123").decode()
        for key in ("key-123", encoded):
            response = httpx.get(server.url + "/", headers={"Authorization": f"ApiKey {key}"})
            assert response.status_code == 200
        client = Elasticsearch(server.url, basic_auth=("shipper", "s3cret"))
        assert client.info()["tagline"] == "You Know, for Search"
        try:
            Elasticsearch(server.url).info()
            raise AssertionError("no credentials were accepted")
        except AuthenticationException as error:
            assert error.meta.status == 401
    finally:
        server.stop()


def test_a_non_loopback_address_without_credentials_refuses_to_start(tmp_path: Path) -> None:
    rules = Server(tmp_path).rules
    result = subprocess.run(
        [sys.executable, "-m", "lanner", "serve", "--rules", str(rules), "--store",
         str(tmp_path / "s.duckdb"), "--http", "0.0.0.0:0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "not a loopback address" in result.stderr
