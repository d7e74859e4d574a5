"""Totals per spec file at the end of a run that included the conformance suite."""

from __future__ import annotations

from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests.conformance.test_conformance import RESULTS

    if not RESULTS:
        return
    terminalreporter.section("EQL conformance (../shared/conformance/es-eql)")
    for group, outcomes in sorted(RESULTS.items()):
        terminalreporter.write_line(f"{group}: {sum(outcomes)}/{len(outcomes)} passed")
