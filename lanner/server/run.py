"""Running the application on uvicorn: the address check (credentials off loopback), TLS."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import uvicorn
from starlette.routing import BaseRoute

from lanner.errors import LannerError
from lanner.server.app import Credentials, create_app
from lanner.server.service import Service

DEFAULT_ADDRESS = "127.0.0.1:9200"


class ServerConfigError(LannerError):
    """A server setting Lanner refuses to start with."""


def parse_address(text: str) -> tuple[str, int]:
    """HOST:PORT (IPv6 in brackets) as a host and a port."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ServerConfigError(f"--http {text!r}: expected HOST:PORT, e.g. {DEFAULT_ADDRESS}")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_users(values: list[str] | None) -> dict[str, str]:
    users = {}
    for value in values or ():
        name, sep, password = value.partition(":")
        if not sep or not name or not password:
            raise ServerConfigError(f"--user {name or value!r}: expected NAME:PASSWORD")
        users[name] = password
    return users


def serve_http(service: Service, host: str, port: int, *, credentials: Credentials,
               mounts: Sequence[BaseRoute] = (), tls_cert: str | None = None,
               tls_key: str | None = None) -> None:
    """Serve until interrupted (SIGINT/SIGTERM), the scheduler running beside the server."""
    if not is_loopback(host) and not credentials:
        raise ServerConfigError(
            f"refusing to listen on {host}, which is not a loopback address, without "
            "credentials: give --user NAME:PASSWORD and/or --api-key KEY")
    if bool(tls_cert) != bool(tls_key):
        raise ServerConfigError("TLS needs both --tls-cert and --tls-key")
    config = uvicorn.Config(create_app(service, credentials, mounts), host=host, port=port,
                            log_level="warning", ssl_certfile=tls_cert, ssl_keyfile=tls_key,
                            access_log=False)
    uvicorn.Server(config).run()
