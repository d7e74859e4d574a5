"""Kibana's alert tags and assignees API (`signals/tags`, `signals/assignees`), through the
same AlertStore methods the triage UI uses (`change_tags`, `change_assignees`).

Read from Kibana's source (security_solution, server/lib/detection_engine/routes/signals/
set_alert_tags_route.ts, set_alert_assignees_route.ts, helpers.ts, translations.ts, and
routes/common/operations/update_alerts_tags.ts): both take the alert ids (`ids`, at least
one) and answer Elasticsearch's update-by-query response over `terms: {_id: ids}` of the
alerts index; their painless scripts write every matched alert, so `updated` counts every
alert found (unknown ids are not matched). A body the request schema refuses gets Kibana's
`{statusCode, error, message}`; a value both added and removed (validateAlert*Arrays) gets
400 with buildSiemResponse's body, `{"message": [<reasons>], "status_code": 400}`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from lanner.server.detection_api import ApiError, Service, StatusUpdate


class ValidationErrors(ApiError):
    """Kibana's validateAlert*Arrays failures, answered as buildSiemResponse's error:
    the reasons as a list under `message`, with `status_code`."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(400, "; ".join(reasons))
        self.reasons = reasons

    def body(self) -> dict[str, Any]:
        return {"message": self.reasons, "status_code": self.status_code}


def set_alert_tags(service: Service, body: Mapping[str, Any]) -> StatusUpdate:
    """`POST /api/detection_engine/signals/tags`: `{ids, tags: {tags_to_add,
    tags_to_remove}}`."""
    ids = _ids(body)
    add, remove = _additions_and_removals(body, "tags", "tags_to_add", "tags_to_remove")
    return _update(service, ids, lambda found: service.alerts.change_tags(
        found, add=add, remove=remove))


def set_alert_assignees(service: Service, body: Mapping[str, Any]) -> StatusUpdate:
    """`POST /api/detection_engine/signals/assignees`: `{ids, assignees: {add, remove}}`
    (user profile ids, kept in `kibana.alert.workflow_assignee_ids`)."""
    ids = _ids(body)
    add, remove = _additions_and_removals(body, "assignees", "add", "remove")
    return _update(service, ids, lambda found: service.alerts.change_assignees(
        found, add=add, remove=remove))


def _additions_and_removals(body: Mapping[str, Any], name: str, add_name: str,
                            remove_name: str) -> tuple[list[str], list[str]]:
    """The two string lists under `body[name]`, each without repeats; a value in both is
    refused as Kibana's validateAlertTagsArrays / validateAlertAssigneesArrays refuse it."""
    changes = _object(body, name)
    add = _uniq(_strings(changes, add_name, name))
    remove = _uniq(_strings(changes, remove_name, name))
    both = [value for value in add if value in remove]
    if both:
        raise ValidationErrors([f"Duplicate {name} {_js(both)} were found in the {add_name} "
                                f"and {remove_name} parameters."])
    return add, remove


def _update(service: Service, ids: list[str], change: Any) -> StatusUpdate:
    clock = time.perf_counter()
    with service.write_lock:
        found = sorted(service.alerts.existing(ids))
        if found:
            change(found)
    # The painless script writes each matched alert: ES counts all of them as updated.
    return StatusUpdate(len(found), len(found), round((time.perf_counter() - clock) * 1000))


def _ids(body: Mapping[str, Any]) -> list[str]:
    ids = body.get("ids")
    if ids is None:
        raise ApiError(400, "[request body]: ids: Required")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ApiError(400, "[request body]: ids: Expected array of strings")
    if not ids:  # AlertIds: an array of non-empty strings, at least one (zod v4's words)
        raise ApiError(400, "[request body]: ids: Too small: expected array to have >=1 "
                            "items")
    if any(not i for i in ids):
        raise ApiError(400, "[request body]: ids: Too small: expected string to have >=1 "
                            "characters")
    return ids


def _object(body: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = body.get(name)
    if value is None:
        raise ApiError(400, f"[request body]: {name}: Required")
    if not isinstance(value, Mapping):
        raise ApiError(400, f"[request body]: {name}: Expected object, received "
                            f"{type(value).__name__}")
    return value


def _strings(parent: Mapping[str, Any], name: str, within: str) -> list[str]:
    value = parent.get(name)
    if value is None:
        raise ApiError(400, f"[request body]: {within}.{name}: Required")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, f"[request body]: {within}.{name}: Expected array of strings")
    return value


def _uniq(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _js(values: list[str]) -> str:
    """JSON.stringify of a list of strings, as Kibana's message embeds it."""
    return orjson.dumps(values).decode()
