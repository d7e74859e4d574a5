"""The real server each test module of the server drives (see live.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.server.live import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A `lanner serve --http` process on a free loopback port and an empty store, one for
    each module (a module's own fixture overrides it)."""
    running = Server(tmp_path_factory.mktemp("server")).start()
    yield running
    running.stop()
