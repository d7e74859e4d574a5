"""The triage web UI, served by `lanner serve` under `/app/`: alerts, an alert's detail with
its investigation guide, the rules, and an EQL search over the store.

Server-rendered: Starlette routes and Jinja2 templates with autoescaping on, a small plain
JavaScript module, every asset in the package (no CDN, no build step). A
Content-Security-Policy allows nothing but this server. See `lanner.web.pages`.
"""

from __future__ import annotations

from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Mount, Route

from lanner.server.service import Service
from lanner.web.app import create_web_app

__all__ = ["create_web_app", "web_routes"]


def web_routes(service: Service) -> list[BaseRoute]:
    """The UI at /app/ (and /app sent there), to serve beside the server's APIs."""
    return [Route("/app", lambda _: RedirectResponse("/app/", 308), methods=["GET"]),
            Mount("/app", app=create_web_app(service))]
