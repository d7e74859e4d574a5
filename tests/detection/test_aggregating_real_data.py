"""Every active threshold and new_terms corpus rule hunting the real EVTX recordings of
../shared/data/real: no rule fails, and the attacks in them raise the new-terms alerts they
should (DCSync by Administrator, an LSASS handle from mimikatz, pass-the-hash)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lanner.detection.fields import fields_read
from lanner.detection.run import Detector, RunReport
from lanner.engine.client import make_backend
from lanner.rules import load_rules
from lanner.store import EventStore, find_event_files
from tests.conftest import SHARED, require_shared

pytestmark = pytest.mark.real_data
OTHER = SHARED / "corpus" / "detection-rules-other"
EVTX = SHARED / "data" / "real" / "evtx"


@pytest.fixture(scope="module")
def reports() -> Iterator[dict[str, RunReport]]:
    require_shared()
    loaded, errors = load_rules([OTHER])
    assert errors == []
    rules = [rule for rule in loaded if rule.type in ("threshold", "new_terms")  # active:
             and "/_deprecated/" not in (rule.path or "")]  # not under rules/_deprecated
    assert (len(rules), sum(rule.type == "threshold" for rule in rules)) == (269, 28)
    with EventStore() as store:
        store.ingest_files(find_event_files([str(EVTX)]), fields=fields_read(rules))
        yield {report.rule.name: report for report in
               Detector(make_backend(store)).hunt_many(rules)}


def test_no_threshold_or_new_terms_rule_fails(reports: dict[str, RunReport]) -> None:
    assert {name: report.error for name, report in reports.items() if report.error} == {}


def test_the_recorded_attacks_raise_new_terms_alerts(reports: dict[str, RunReport]) -> None:
    def terms(name: str) -> list[list[object]]:
        return sorted(a["kibana.alert.new_terms"] for a in reports[name].alerts)

    assert ["Administrator"] in terms("First Time Seen Account Performing DCSync")
    assert ["C:\\TOOLS\\Security_tool\\Mimikatz-fev-2020\\mimikatz.exe", "admmig"] in terms(
        "LSASS Memory Dump Handle Access")
    assert len(reports["Potential Pass-the-Hash (PtH) Attempt"].alerts) == 5
    (first,) = [a for a in reports["My First Rule"].alerts
                if a["kibana.alert.threshold_result"]["from"] == "2017-06-09T19:21:26.968Z"]
    assert first["host.name"] == "2016dc.hqcorp.local"
