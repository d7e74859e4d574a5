"""A real `lanner serve --http` in a subprocess on a free loopback port, for the tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]

# A rule that runs every two seconds over the last ten minutes: an event shipped now is
# alerted on by the next run.
RULE = '''[metadata]
creation_date = "2024/01/01"
maturity = "production"
updated_date = "2024/01/01"

[rule]
author = ["Lanner tests"]
description = "A process named evil.exe."
from = "now-10m"
interval = "2s"
index = ["logs-*"]
language = "eql"
license = "Apache-2.0"
name = "Evil process"
risk_score = 47
rule_id = "00000000-0000-4000-8000-00000000e711"
severity = "medium"
type = "eql"
query = \'\'\'
process where process.name == "evil.exe"
\'\'\'
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`lanner serve` on a store file; `start`, `kill` (SIGKILL) and `stop` (SIGINT)."""

    def __init__(self, folder: Path, *extra: str) -> None:
        self.folder = folder
        self.rules = folder / "rules"
        self.rules.mkdir(exist_ok=True)
        (self.rules / "evil.toml").write_text(RULE, encoding="utf-8")
        self.store = folder / "store.duckdb"
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> Server:
        self.port = free_port()
        log = (self.folder / "server.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lanner", "serve", "--rules", str(self.rules), "--store",
             str(self.store), "--http", f"127.0.0.1:{self.port}", "--poll", "1", *self.extra],
            cwd=ROOT, stdout=log, stderr=log, env={**os.environ, "NO_COLOR": "1"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server ended: {self.log()}")
            try:
                httpx.get(self.url + "/", timeout=1.0)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"the server did not answer in {timeout}s: {self.log()}")

    def log(self) -> str:
        return (self.folder / "server.log").read_text(errors="replace")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
