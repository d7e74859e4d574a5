"""Errors in Elasticsearch's shape: `{"error": {"root_cause": [...], "type", "reason"},
"status"}`, raised by a handler and answered by the application's exception handler."""

from __future__ import annotations

from typing import Any

from lanner.eql.errors import EqlSemanticError, EqlSyntaxError, EqlUnsupportedError
from lanner.errors import LannerError


class ElasticError(Exception):
    """A request Elasticsearch would refuse: its HTTP status, error type and reason."""

    def __init__(self, status: int, kind: str, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.status = status
        self.kind = kind
        self.reason = reason
        self.details = details

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.kind, self.reason, **self.details)


def error_body(status: int, kind: str, reason: str, **details: Any) -> dict[str, Any]:
    cause = {"type": kind, "reason": reason, **details}
    return {"error": {"root_cause": [cause], **cause}, "status": status}


def parsing(reason: str) -> ElasticError:
    return ElasticError(400, "parsing_exception", reason)


def illegal_argument(reason: str) -> ElasticError:
    return ElasticError(400, "illegal_argument_exception", reason)


def index_not_found(index: str) -> ElasticError:
    return ElasticError(404, "index_not_found_exception", f"no such index [{index}]",
                        index=index, **{"resource.type": "index_or_alias",
                                        "resource.id": index, "index_uuid": "_na_"})


def from_lanner(error: LannerError) -> ElasticError:
    """The ES error a Lanner error of a request stands for: EQL syntax is a parsing
    exception, an EQL query the fields or types refuse a verification exception."""
    if isinstance(error, EqlSyntaxError):
        return parsing(str(error))
    if isinstance(error, EqlSemanticError | EqlUnsupportedError):
        return ElasticError(400, "verification_exception", str(error))
    return illegal_argument(str(error))
