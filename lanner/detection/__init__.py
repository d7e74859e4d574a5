"""Kibana's detection engine around a rule's search: what a rule run does besides the query.

Kibana does not just run a rule's query; it decides *which time windows* each run searches,
drops events that match exceptions, turns matches into alert documents with deterministic ids,
optionally suppresses repeats, and records each run's outcome. This package reproduces that
layer so a Lanner run gives the alerts, and the run statuses, that Kibana would:

- `datemath`, `schedule`: `from`/`to` date math, the per-run windows with catch-up after missed
  runs and the gap that remains, replay invocations (as the rule preview) and the next due run.
- `run` executes a rule like Kibana; `executors` says how each rule type searches a window
  (EQL there, `query_rules` for KQL query rules, `threat_match` for indicator match, and the
  aggregating types beside them); ML rules are never run (they need Elastic ML).
- exceptions, alerts, suppression and runs live in sibling modules of this package.
"""
