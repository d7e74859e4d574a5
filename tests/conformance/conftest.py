"""The Spark session the conformance suite shares, and totals per spec file at the end of a
run that included the suite."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.engine.spark.session import shared_session

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def spark() -> SparkSession:
    return shared_session()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests.conformance.test_conformance import RESULTS

    if not RESULTS:
        return
    terminalreporter.section("EQL conformance (../shared/conformance/es-eql)")
    for group, outcomes in sorted(RESULTS.items()):
        terminalreporter.write_line(f"{group}: {sum(outcomes)}/{len(outcomes)} passed")
