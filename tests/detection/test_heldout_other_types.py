"""Held-out checks of query, threshold and new_terms rules (issue 20), written from the
contracts alone (KQL-SEMANTICS.md §3.2, §5, §10; OTHER-RULE-TYPES.md §2-§4), not from
Lanner's output: real corpus rules, each over an NDJSON file of true positives and near-miss
false positives, run through `lanner hunt` as a user runs it, and the exact alerts expected.

Every event carries an `event.ingested` two seconds after its `@timestamp`: all these rules
override the timestamp with it, so windows, history and threshold times are on
`event.ingested`, while `kibana.alert.original_time` of an event's alert is its `@timestamp`
(§2.3). New terms cases hunt `--since` T0, so the events before it are the history. Threshold
cases put each group within one rule interval of the first event, so the group is counted
whole in one window; `threshold_result.from` and `original_time` are the group's earliest
and latest `event.ingested` (§3.2)."""

from __future__ import annotations

import datetime
import hashlib
import json
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lanner.cli.app import app
from tests.conftest import SHARED, require_shared

RULES = SHARED / "corpus" / "detection-rules-other" / "rules"
FIXTURES = Path(__file__).parent / "fixtures" / "heldout_other"
T0 = "2026-11-20T10:00:00Z"
# calculateThresholdSignalUuid's namespace (threshold/utils.ts; OTHER-RULE-TYPES.md §3.2).
THRESHOLD_NAMESPACE = uuid.UUID("0684ec03-7201-4ee0-8ee0-3a3f6b2479b2")
runner = CliRunner()


@dataclass(frozen=True)
class Case:
    """One rule over one fixture; `expected` is what the alerts must be, exactly."""

    name: str
    rule: str  # path under the corpus rules folder
    rule_id: str
    expected: list[Any]
    args: tuple[str, ...] = ()
    marks: tuple[Any, ...] = field(default=())


def at(seconds: int) -> datetime.datetime:
    """T0 plus `seconds`, as an aware datetime."""
    return datetime.datetime(2026, 11, 20, 10, 0, 0, tzinfo=datetime.UTC) + datetime.timedelta(
        seconds=seconds)


QUERY_CASES = [
    # Pattern-analyzed text: an unquoted value is its lower-cased tokens; a longer token or a
    # keyword `event.category` in another case does not match (§5.2, §5.4, §10.3, §10.6).
    Case("q_posh_minidump", "windows/credential_access_posh_minidump.toml",
         "577ec21e-56fe-4065-91d8-45eb8224fe77", ["tp-lowercase-token"]),
    # Quoted "Drawing.Bitmap" is the phrase `drawing bitmap`: adjacent tokens only.
    Case("q_posh_screen_grabber", "windows/collection_posh_screen_grabber.toml",
         "959a7353-1129-4aa7-9084-30746b256a70", ["tp"]),
    # `>= 4.5` includes the bound; the negated raw wildcard filter is case-insensitive with
    # `?` one character (§4, §10.14).
    Case("q_posh_compressed", "windows/defense_evasion_posh_compressed.toml",
         "81fe9dc6-a2d7-4192-a2d8-eed98afc766a", ["tp-entropy-at-bound", "tp-path-not-filtered"]),
    # The MZ header's base64 is a token of its own when `/` follows it.
    Case("q_posh_portable_executable", "windows/execution_posh_portable_executable.toml",
         "ad84d445-b1ce-4377-82d9-7c633f28bf9a", ["tp"]),
    # `not field:*` matches a missing field and a null one (§5.15).
    Case("q_zoom_no_passcode", "cross-platform/initial_access_zoom_meeting_with_no_passcode.toml",
         "58ac2aa5-6718-427c-a845-5f3ac5af00ba", ["tp-no-password", "tp-null-password"],
         args=("--index", "filebeat-8.15.0")),
    # CIDR on ip fields, IPv6 blocks written quoted (addresses compared as addresses, whatever
    # their case), a numeric value list (§5.6).
    Case("q_icmp_redirect", "network/credential_access_icmp_redirect_message_observed.toml",
         "2014ebd8-b847-4cc0-a827-d0d61ec88680",
         ["tp-ipv6-link-local", "tp-other-field", "tp-ula", "tp-ipv6-upper-case"]),
    # A closed numeric range (a port sent as a string is still a number on a long field),
    # `not` over a CIDR list, `event.category` as an array, keyword case; events written with
    # dotted keys (whole or mixed with objects) are the same documents to Elasticsearch.
    Case("q_vnc_from_internet",
         "network/command_and_control_vnc_virtual_network_computing_from_the_internet.toml",
         "5700cb81-df44-46aa-a5d7-337798f53eb8",
         ["tp-upper-port", "tp-category-array", "tp-port-as-string", "tp-dotted-keys"]),
    # `> 0.98` is strict; a missing field is no match; an event without `event.ingested`
    # is found through the @timestamp fallback of the override (OTHER-RULE-TYPES.md §1).
    Case("q_dga_probability",
         "integrations/dga/command_and_control_ml_dns_request_high_dga_probability.toml",
         "da7f5803-1cd4-42fd-a890-0173ae80ac69", ["tp", "tp-no-ingested"]),
    # A field-name pattern (`target_resources.*.display_name`), keyword case (§3.6).
    Case("q_entra_guest_invite",
         "integrations/azure/initial_access_entra_id_external_guest_user_invite.toml",
         "141e9b3a-ff37-4756-989d-05d7cbf35b0e", ["tp", "tp-outcome-capitalized"]),
    # `source.ip:*` is exists; `not user_agent.original:"AWS Internal"` holds when it is missing.
    Case("q_cloudwatch_log_stream_deletion",
         "integrations/aws/impact_cloudwatch_log_stream_deletion.toml",
         "d624f0ae-3dd1-4856-9aad-ccfe4d4bfa17", ["tp", "tp-no-user-agent"]),
    # Keyword wildcards with a literal space (`* curl*`), arrays under `not` (§5.14, §8).
    Case("q_curl_wget_from_container",
         "linux/command_and_control_auditd_curl_wget_from_container.toml",
         "e7b2c3d4-5a6b-4e8f-9c0d-1a2b3e4f5a6b", ["tp-args-space-curl", "tp-wget-name"]),
    # Quoted stars are literal, so a real request path never matches the rule's quoted
    # patterns; only a path with a real `*` does (§8 oddities); `url.password:""` is exact.
    Case("q_splunk_postgres_recovery",
         "network/initial_access_splunk_postgres_recovery_body_injection.toml",
         "2a7823db-0bc2-48f6-aa2f-e6aef233c6dc", ["tp-literal-star-empty-password"]),
    # `?` is literal in KQL (§10.1), `\:` escapes, `(* and not (...))` on an ip field, an
    # array under `not`.
    Case("q_k8s_secrets_list",
         "integrations/kubernetes/credential_access_kubernetes_secrets_list_cluster_and_sensitive_namespaces.toml",
         "7e3f9a2b-1c4d-5e6f-8a0b-9c8d7e6f5a4b", ["tp-literal-question-mark", "tp-exact-uri"]),
    # match_only_text `message`: quoted values are phrases of standard-analyzer tokens,
    # lower-cased (§5.4).
    Case("q_rc_local_syslog", "linux/persistence_rc_local_error_via_syslog.toml",
         "69c116bb-d86f-48b0-857d-3648511a6cac", ["tp-phrase", "tp-phrase-other-case"]),
    # `"[CVE-2020-0601]"` is the phrase `cve 2020 0601`: brackets and hyphens are not kept.
    Case("q_cve_2020_0601", "windows/defense_evasion_cve_2020_0601.toml",
         "56557cde-d923-4b88-adee-c61b3f3b5dc3", ["tp", "tp-same-words-no-brackets"]),
    # `>= 100` on a number, or two string conditions.
    Case("q_o365_mail_items",
         "integrations/o365/collection_exchange_excessive_mail_items_accessed.toml",
         "7fc95782-4bd1-11f0-9838-f661ea17fbcd", ["tp-count-at-bound", "tp-throttled"]),
    # A keyword field and a number in the event (ES indexes 5136 as "5136"); a keyword
    # wildcard is whole-value and case-sensitive.
    Case("q_adminsdholder", "windows/persistence_ad_adminsdholder.toml",
         "6e9130a5-9be6-48e5-943a-9628bfc74b18", ["tp", "tp-numeric-code"]),
    # `process.command_line` is a `wildcard` field: KQL patterns on it are whole-value and
    # case-sensitive (§5.3); `(* and not (...))` in a value list; escaped Windows paths with a
    # `*` inside (`C\:\\ProgramData\\...\\*\\updater.exe`, §3.3).
    Case("q_ssm_session_manager_child",
         "cross-platform/execution_aws_ssm_session_manager_child_process.toml",
         "cf2b8cf5-3364-4396-b551-42aae9b6d37e",
         ["tp", "tp-ssm-user-other-case", "tp-powershell-args"]),
    # An unquoted `true` against a string "true" (match on a string field).
    Case("q_okta_threat_suspected",
         "integrations/okta/okta_threatinsight_threat_suspected_promotion.toml",
         "6885d2ae-e008-4762-b98a-e8e1cd3a81e9", ["tp-threat-suspected", "tp-threat-detected"]),
]

SINCE = ("--since", T0)
NEW_TERMS_CASES = [
    # Each value of an array is its own term: one alert per new value, two from an event
    # with two (§4.3). An ip term is the address, shown as Elasticsearch formats it.
    Case("n_ssh_unusual_ip",
         "linux/initial_access_successful_ssh_authentication_by_unusual_ip.toml",
         "5c495612-9992-49a7-afe3-0f647671fb60",
         [("tp-one-new-value", ["203.0.113.9"]), ("tp-two-new-values", ["198.51.100.1"]),
          ("tp-two-new-values", ["198.51.100.2"]), ("tp-ipv6-written-long", ["2001:db8::1"])],
         SINCE),
    # A combination is new though each value was seen; "daemon" is not in the rule's list.
    Case("n_ssh_backdoored_system_user", "linux/persistence_ssh_via_backdoored_system_user.toml",
         "428e9109-dc13-4ae9-84cb-100464d4c6fa", [("tp-new-host", ["www-data", "h2"])], SINCE),
    # History window now-14d: seen 10 days ago is known, seen only 20 days ago is new.
    Case("n_kworker_netcon", "linux/command_and_control_linux_kworker_netcon.toml",
         "25d917c4-aa3c-4111-974c-286c0312ff95",
         [("tp-seen-only-before-history-window", ["kworker/0:2", "host-b"]),
          ("tp-new-combination", ["kworker/u8:1", "host-c"])], SINCE),
    # A boolean clause (`volume.removable:true`, also a "true" string in the event, which a
    # boolean field accepts) and a two-field combination.
    Case("n_usb_device_mounted",
         "cross-platform/initial_access_exfiltration_new_usb_device_mounted.toml",
         "483832a8-ffdd-4e11-8e96-e0224f7bda9b",
         [("tp-known-device-new-host", ["SN1", "host-b"]),
          ("tp-boolean-as-string", ["SN4", "host-a"])], SINCE),
    # `process.args:("a" and "b" and commands=* ...)`: each value anywhere in the array (§2.4).
    Case("n_ssm_sendcommand",
         "cross-platform/execution_aws_ssm_sendcommand_with_command_parameters.toml",
         "c371e9fc-6a10-11ef-a0ac-f661ea17fbcc",
         [("tp-linux", ["host-a"]), ("tp-windows-no-action", ["host-c"])], SINCE),
    # `process.name.caseless` is Defend's lowercase-normalized multi-field of process.name: the
    # event only has `process.name: CMD.EXE` (§5.2, §5.16).
    Case("n_xp_cmdshell_caseless",
         "windows/persistence_via_xp_cmdshell_mssql_stored_procedure.toml",
         "4ed493fc-d637-4a36-80ff-ac84937e5461",
         [("tp-upper-case-name", ["db-1", '"C:\\Windows\\system32\\cmd.exe" /c whoami /all']),
          ("tp-certutil", ["db-1", "certutil.exe -urlcache -f http://x/a a"])], SINCE),
    # The same rule through `process.pe.original_file_name:"Cmd.Exe"` (no .caseless needed):
    # a quoted value with `\"` and a trailing space is an exact command line; `\\\\*` is a
    # UNC prefix; `("@echo" and "@for")` needs both values in the array.
    Case("n_xp_cmdshell_original_name",
         "windows/persistence_via_xp_cmdshell_mssql_stored_procedure.toml",
         "4ed493fc-d637-4a36-80ff-ac84937e5461",
         [("tp", ["db-1", '"C:\\Windows\\system32\\cmd.exe" /c whoami /all']),
          ("tp-command-line-prefix-only", ["db-1", '"C:\\Windows\\system32\\cmd.exe" /c  '])],
         SINCE),
    # A nested group: one object of `binding_deltas` must hold both conditions (§3.7).
    Case("n_gcp_impersonation_role_grant_nested",
         "integrations/gcp/persistence_gcp_service_account_impersonation_role_grant.toml",
         "197d2757-eea1-46f9-9ebd-84646d2b45fa",
         [("tp", ["u-new"]), ("tp-second-object", ["u-y"]), ("tp-version-wildcard", ["u-w"])],
         SINCE),
    # Three fields; `?.docs.live.net` has a literal `?`.
    Case("n_macos_suspicious_web_service",
         "macos/command_and_control_unusual_network_connection_to_suspicious_web_service.toml",
         "b07f0fba-0a78-11f0-8311-b66272739ecb",
         [("tp-ngrok", ["mac-1", "/tmp/x", "abc123.ngrok.io"]),
          ("tp-literal-question-mark", ["mac-1", "/tmp/x", "?.docs.live.net"]),
          ("tp-new-executable", ["mac-1", "/tmp/y", "pastebin.com"])], SINCE),
    # Keyword patterns with a literal space, case-sensitive; a pair first seen in the window
    # alerts once, on its earliest event.
    Case("n_s3_uncommon_user_agent",
         "integrations/aws/exfiltration_s3_uncommon_client_user_agent.toml",
         "73344d2d-9cfb-4daf-b3c5-1d40a8182b86", [("tp", ["111111111111", "alice"])], SINCE),
    # The rule's query applies to the history too: a failed login does not make a user known.
    # A value twice in one event's array is one term, one alert.
    Case("n_ssh_unusual_user_history_filtered",
         "linux/initial_access_successful_ssh_authentication_by_unusual_user.toml",
         "5b8d7b94-23c6-4e3f-baed-3a4d0da4f19d",
         [("tp", ["mallory"]), ("tp-value-twice", ["eve"])], SINCE),
]


def bucket(terms: list[tuple[str, str]], count: int, first: int, last: int,
           cardinality: tuple[str, int] | None = None) -> dict[str, Any]:
    """A threshold alert: its terms, count, earliest and latest event.ingested (T0 seconds)."""
    expected: dict[str, Any] = {"terms": [{"field": f, "value": v} for f, v in terms],
                                "count": count, "from": at(first), "original_time": at(last)}
    if cardinality:
        expected["cardinality"] = [{"field": cardinality[0], "value": cardinality[1]}]
    return expected


TARGET_PID = "winlog.event_data.TargetProcessId"
THRESHOLD_CASES = [
    # Three fields, value 15: 14 events, a different `-15` signal, or two users miss it.
    Case("t_process_kill", "linux/impact_process_kill_threshold.toml",
         "67f8443a-4ff3-4a70-916d-3cfa3ae9f02b",
         [bucket([("host.id", "host-a"), ("process.executable", "/usr/bin/kill"),
                  ("user.name", "root")], 15, 2, 142)]),
    # One field, value 10: upper-case NET.EXE, an excluded parent, 9 events miss it; a host
    # with net.exe and taskkill.exe together reaches it.
    Case("t_stop_process_service", "windows/impact_stop_process_service_threshold.toml",
         "035889c4-2686-4583-a7df-67f89c292f2c",
         [bucket([("host.id", "host-a")], 10, 2, 92),
          bucket([("host.id", "host-e")], 10, 6, 97)]),
    # Cardinality: 100 distinct destinations from a private source; 99 distinct, a public
    # source, or a port out of the list miss it.
    Case("t_network_sweep", "network/discovery_potential_network_sweep_detected.toml",
         "781f8746-2180-4691-890c-4c96d11ca91d",
         [bucket([("source.ip", "10.1.2.3")], 100, 2, 101, ("destination.ip", 100))]),
    # Value 1 with cardinality 2 of OS names; `not dt_hash:"-"`, `user_agent.os.name:*`.
    Case("t_okta_dt_hash_os",
         "integrations/okta/credential_access_multiple_user_agent_os_authentication.toml",
         "fb3ca230-af4e-11f0-900d-f661ea17fbcc",
         [bucket([("okta.debug_context.debug_data.dt_hash", "h1")], 2, 12, 72,
                 ("user_agent.os.name", 2))]),
    # Value 2 and 2 distinct target pids; the TargetImage list is case-sensitive. E5's events
    # have no `event.ingested`: they are counted and timed by `@timestamp` (§1, the
    # aggregatable timestamp's fallback), so its times are its events' @timestamp.
    Case("t_lsass_snapshot", "windows/credential_access_suspicious_lsass_access_via_snapshot.toml",
         "0f93cb9a-1931-48c2-8cd0-f173fd3e5283",
         [bucket([("process.entity_id", "E1")], 2, 12, 42, (TARGET_PID, 2)),
          bucket([("process.entity_id", "E4")], 2, 15, 45, (TARGET_PID, 2)),
          bucket([("process.entity_id", "E5")], 2, 14, 44, (TARGET_PID, 2))]),
    # Cardinality over an array field counts every distinct value of every event's array:
    # 3 + 98 addresses = 101 reach 100, 3 + 96 = 99 do not.
    Case("t_ping_sweep", "linux/discovery_ping_sweep_detected.toml",
         "03c23d45-d3cb-4ad4-ab5d-b361ffe8724a",
         [bucket([("host.id", "host-a"), ("process.parent.entity_id", "P1"),
                  ("process.executable", "/usr/bin/ping")], 98, 2, 99, ("process.args", 101))]),
    # No threshold field: one group of all the matched events, with a cardinality of user.name
    # (30 events, 25 users); empty principal names, private sources, another error code and
    # Microsoft's AS are not counted.
    Case("t_entra_lockouts_no_field",
         "integrations/azure/credential_access_entra_id_excessive_account_lockouts.toml",
         "2d6f5332-42ea-11f0-b09a-f661ea17fbcd",
         [bucket([], 30, 2, 582, ("user.name", 25))]),
    # The count is every event of the group in the window (25, not 10); the signal history
    # makes a group alert again only for newer events reaching the threshold (§3.3): a second
    # batch of 10 twenty minutes later alerts, a third batch of 5 does not. An event with two
    # host.id values counts in both groups; an event without host.id in none (§3.1).
    Case("t_stop_process_service_repeats", "windows/impact_stop_process_service_threshold.toml",
         "035889c4-2686-4583-a7df-67f89c292f2c",
         [bucket([("host.id", "host-f")], 25, 2, 242),
          bucket([("host.id", "host-g")], 10, 3, 93),
          bucket([("host.id", "host-g")], 10, 1203, 1293),
          bucket([("host.id", "host-h")], 10, 609, 699),
          bucket([("host.id", "host-i")], 10, 609, 699)]),
]


def value(document: Any, name: str) -> Any:
    """A field of an alert or event, written as a dotted key, as nested objects or as a mix
    of both (Elasticsearch reads them alike); None when absent."""
    if not isinstance(document, dict):
        return None
    if name in document:
        return document[name]
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:cut])
        if head in document:
            found = value(document[head], ".".join(parts[cut:]))
            if found is not None:
                return found
    return None


def instant(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def hunt(case: Case, tmp_path: Path) -> list[dict[str, Any]]:
    """The alerts `lanner hunt` writes for the case's rule over its fixture."""
    require_shared()
    out = tmp_path / "alerts.ndjson"
    result = runner.invoke(app, ["hunt", "--quiet", "--rules", str(RULES / case.rule),
                                 str(FIXTURES / f"{case.name}.ndjson"), "-o", str(out),
                                 *case.args])
    assert result.exit_code == 0, result.output
    alerts = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    for alert in alerts:
        assert value(alert, "kibana.alert.rule.rule_id") == case.rule_id
    return alerts


def source_events(case: Case) -> dict[str, dict[str, Any]]:
    lines = (FIXTURES / f"{case.name}.ndjson").read_text().splitlines()
    return {value(e, "event.id"): e for e in map(json.loads, lines) if value(e, "event.id")}


def wrapped_id(alert: dict[str, Any], version: str) -> str:
    """wrapHits' alert id: sha256(_index + _id + String(_version) + "default:" + rule uuid),
    the source document being the alert's ancestor (OTHER-RULE-TYPES.md §1)."""
    ancestor = value(alert, "kibana.alert.ancestors")[0]
    text = (ancestor["index"] + ancestor["id"] + version + "default:"
            + value(alert, "kibana.alert.rule.uuid"))
    return hashlib.sha256(text.encode()).hexdigest()


def params(cases: list[Case]) -> list[Any]:
    return [pytest.param(c, id=c.name, marks=c.marks) for c in cases]


@pytest.mark.parametrize("case", params(QUERY_CASES))
def test_query_rule_alerts_exactly_the_true_positives(case: Case, tmp_path: Path) -> None:
    alerts = hunt(case, tmp_path)
    events = source_events(case)
    assert sorted(value(a, "event.id") for a in alerts) == sorted(case.expected)
    for alert in alerts:
        event = events[value(alert, "event.id")]
        assert value(alert, "kibana.alert.rule.type") == "query"
        ancestor = value(alert, "kibana.alert.ancestors")
        assert [(a["type"], a["depth"]) for a in ancestor] == [("event", 0)]
        assert value(alert, "kibana.alert.uuid") == wrapped_id(alert, "1")
        assert instant(value(alert, "kibana.alert.original_time")) == instant(event["@timestamp"])


@pytest.mark.parametrize("case", params(NEW_TERMS_CASES))
def test_new_terms_rule_alerts_each_new_term_once(case: Case, tmp_path: Path) -> None:
    alerts = hunt(case, tmp_path)
    events = source_events(case)
    found = sorted((value(a, "event.id"), value(a, "kibana.alert.new_terms")) for a in alerts)
    assert found == sorted(case.expected)
    for alert in alerts:
        event = events[value(alert, "event.id")]
        assert value(alert, "kibana.alert.rule.type") == "new_terms"
        assert instant(value(alert, "kibana.alert.original_time")) == instant(event["@timestamp"])


@pytest.mark.parametrize("case", params(THRESHOLD_CASES))
def test_threshold_rule_alerts_the_groups_that_reach_it(case: Case, tmp_path: Path) -> None:
    alerts = hunt(case, tmp_path)
    rule = tomllib.loads((RULES / case.rule).read_text())["rule"]
    found = []
    for alert in alerts:
        assert value(alert, "kibana.alert.rule.type") == "threshold"
        result = value(alert, "kibana.alert.threshold_result")
        got = {"terms": result["terms"], "count": result["count"],
               "from": instant(result["from"]),
               "original_time": instant(value(alert, "kibana.alert.original_time"))}
        if "cardinality" in result:
            got["cardinality"] = result["cardinality"]
        for term in result["terms"]:  # the synthetic document carries the group's values
            assert value(alert, term["field"]) == term["value"]
        assert instant(value(alert, "@timestamp")) >= got["original_time"]
        # The synthetic hit (§3.2): no source event fields, an id from the rule, the run's
        # start (the alert's @timestamp), the fields and the bucket's values sorted.
        assert value(alert, "event.id") is None
        started = instant(value(alert, "@timestamp")).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        key = ",".join(sorted(str(term["value"]) for term in result["terms"]))
        synthetic = uuid.uuid5(THRESHOLD_NAMESPACE, case.rule_id + started
                               + ",".join(rule["threshold"]["field"]) + key)
        assert value(alert, "kibana.alert.ancestors") == [
            {"id": str(synthetic), "type": "event", "index": ",".join(rule["index"]), "depth": 0}]
        assert value(alert, "kibana.alert.uuid") == wrapped_id(alert, "undefined")
        found.append(got)
    key = lambda b: (json.dumps(b["terms"]), b["from"])  # noqa: E731
    assert sorted(found, key=key) == sorted(case.expected, key=key)
