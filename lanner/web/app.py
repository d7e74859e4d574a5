"""The UI's Starlette application: its routes over one service (see lanner.web.pages and
lanner.web.rule_pages for what each serves)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from lanner.web.pages import Pages, http_error
from lanner.web.rule_pages import RulePages


def create_web_app(service: Any) -> Starlette:
    """The UI over a service; mount it at `/app` (lanner.server.app does)."""
    pages = Pages(service)
    rules = RulePages(pages)
    routes = [
        Route("/", pages.alerts, methods=["GET"]),
        Route("/alerts/status", pages.status, methods=["POST"]),
        Route("/alerts/{alert_id}", pages.alert, methods=["GET"]),
        Route("/alerts/{alert_id}/tags", pages.tags, methods=["POST"]),
        Route("/alerts/{alert_id}/assignees", pages.assignees, methods=["POST"]),
        Route("/alerts/{alert_id}/notes", pages.notes, methods=["POST"]),
        Route("/rules", rules.rules, methods=["GET"]),
        Route("/rules/attack", rules.attack, methods=["GET"]),
        Route("/rules/{rule_id}", rules.rule, methods=["GET"]),
        Route("/rules/{rule_id}/enabled", rules.enabled, methods=["POST"]),
        Route("/rules/{rule_id}/run", rules.run, methods=["POST"]),
        Route("/search", pages.search, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=Path(__file__).parent / "static"),
              name="static"),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})
