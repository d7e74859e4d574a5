"""`rules test`'s answer for a threshold or new_terms rule that does not fire: the counts of
lanner.detection.aggregate_explain, in words."""

from __future__ import annotations

from rich.text import Text

from lanner.cli.terminal import visible
from lanner.detection.aggregate_explain import AggregationExplanation


def render_aggregation_explanation(explanation: AggregationExplanation) -> Text:
    """Where the events stopped, then each step's count and the closest groups."""
    text = Text()
    text.append("  stopped: ", style="bold")
    text.append(visible(explanation.verdict) + "\n", style="bold red")
    for step in explanation.steps:
        text.append(f"  {step.count:>9} {visible(step.label)}\n")
    if explanation.closest:
        text.append("  closest groups:\n", style="bold")
        for line in explanation.closest:
            text.append(f"    {visible(line)}\n", style="dim")
    text.rstrip()
    return text
