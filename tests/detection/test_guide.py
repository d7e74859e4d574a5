"""Investigation guides: plugin blocks and `[transform]` placeholders rendered as plain Markdown,
on real corpus rules and on the Chinese guides of the seed documents."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from lanner.detection.guide import (
    MISSING_MARKER,
    expand_transforms,
    fill_templates,
    render_guide,
)
from lanner.store.documents import field_objects
from tests.conftest import CORPUS, SHARED, require_shared

WINDIR_RULE = CORPUS / "rules/windows/privilege_escalation_rogue_windir_environment_var.toml"
OSQUERY_RULE = CORPUS / "rules/_deprecated/command_and_control_non_standard_http_port.toml"
CHINESE_RULE = SHARED / "rules/seed-docs/common_webservices.toml"


def load(path: Path) -> dict[str, Any]:
    require_shared()
    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_investigate_transforms_become_timeline_queries_in_words() -> None:
    document = load(WINDIR_RULE)
    alert = {"host": {"id": "host-7"}, "user.id": "S-1-5-21-42",
             "process": {"entity_id": "ent-1"}}
    guide = render_guide(document["rule"]["note"], document["transform"], alert)
    assert "$investigate_" not in guide and "!{" not in guide
    lines = guide.splitlines()
    writer = next(i for i, line in enumerate(lines) if "Writer process event" in line)
    assert lines[writer].startswith("  - Hint: Recover session and token fields")
    assert lines[writer].endswith("**Investigate in Timeline: Writer process event** (events "
                                  "from `now-1h` to `now`, relative to the alert's time)")
    assert lines[writer + 1:writer + 3] == [
        "    - `event.category` is `process` and `host.id` is `host-7` and "
        "`process.entity_id` is `ent-1`",
        "    - or `event.category` is `process` and `host.id` is `host-7` and `process.pid` "
        f"is `{{{{process.pid}}}}` {MISSING_MARKER}",
    ]
    user_alerts = next(line for line in lines if "Alerts associated with the user" in line)
    assert user_alerts == ("    - **Investigate in Timeline: Alerts associated with the user** "
                           "(events from `now-48h/h` to `now`, relative to the alert's time)")
    assert "      - `event.kind` is `signal` and `user.id` is `S-1-5-21-42`" in lines


def test_osquery_transforms_become_sql_code_blocks() -> None:
    document = load(OSQUERY_RULE)
    guide = render_guide(document["rule"]["note"], document["transform"],
                         {"user": {"name": ["svc_web", "bob"]}})
    assert "$osquery_" not in guide
    assert ("  - **Osquery: Osquery - Retrieve Information for a Specific User**\n\n"
            "    ```sql\n"
            "    SELECT * FROM users WHERE username = svc_web, bob\n"
            "    ```\n") in guide
    without_user = render_guide(document["rule"]["note"], document["transform"], {})
    assert ("    SELECT * FROM users WHERE username = {{user.name}}\n    ```\n"
            f"    Left as written, {MISSING_MARKER}: `{{{{user.name}}}}`\n") in without_user


def test_without_an_alert_templates_stay_as_kibana_shows_them() -> None:
    document = load(OSQUERY_RULE)
    guide = render_guide(document["rule"]["note"], document["transform"])
    assert "WHERE username = {{user.name}}" in guide
    assert MISSING_MARKER not in guide


def test_a_chinese_guide_comes_through_intact() -> None:
    note = load(CHINESE_RULE)["rule"]["note"]
    alert = {"process": {"entity_id": "proc-9"}, "user.id": "u-1", "host": {"name": "主机-01"}}
    guide = render_guide(note, None, alert)
    block = re.compile(r"!\{(investigate|osquery)\{.*?\}\}(?=\s*$|\s*-)", re.MULTILINE)
    for line in note.splitlines():
        if "!{" not in line:
            assert line in guide.splitlines()
        else:
            assert block.sub("", line).rstrip() in guide
    assert ("- **Investigate in Timeline: 过去 48 小时内与主机关联的警报** "
            "(events from `now-48h/h`") in guide
    assert "  - `event.kind` is `signal` and `host.name` is `主机-01`" in guide
    assert ("进行过滤,使用 Elastic Defend 网络事件来确定受试进程联系的域和地址。 - "
            "**Investigate in Timeline: 调查受试进程网络事件**\n"
            "- `process.entity_id` is `proc-9` and `event.category` is `network`") in guide
    assert ("- **Osquery: Osquery - 检索在用户帐户上运行的服务**\n\n  ```sql\n"
            "  SELECT description, display_name, name, path, pid, service_type, start_type, "
            "status, user_account FROM services WHERE\n"
            "  NOT (user_account LIKE %LocalSystem") in guide
    assert "!{" not in guide


def test_expanding_transforms_gives_the_blocks_kibana_receives() -> None:
    transform = {"investigate": [{"label": "进程", "description": "", "providers": [[
        {"excluded": False, "field": "host.id", "queryType": "phrase",
         "value": "{{host.id}}", "valueType": "string"}]],
        "relativeFrom": "now-1h", "relativeTo": "now"}],
        "osquery": [{"label": "DNS", "query": "SELECT * FROM dns_cache"}]}
    note = "Look: $investigate_0 then $osquery_0, not $osquery_1 nor $investigate_10."
    expanded = expand_transforms(note, transform)
    assert expanded == (
        'Look: !{investigate{"description":"","label":"进程","providers":[[{"excluded":false,'
        '"field":"host.id","queryType":"phrase","value":"{{host.id}}","valueType":"string"}]],'
        '"relativeFrom":"now-1h","relativeTo":"now"}} then '
        '!{osquery{"label":"DNS","query":"SELECT * FROM dns_cache"}}, not $osquery_1 nor '
        '$investigate_10.')
    alert = {"host.id": "h1"}
    assert render_guide(expanded, None, alert) == render_guide(note, transform, alert)


def test_every_corpus_guide_renders_without_plugin_syntax() -> None:
    require_shared()
    rendered = blocks = 0
    leftovers = []
    for path in sorted(CORPUS.rglob("*.toml")):
        document = tomllib.loads(path.read_text(encoding="utf-8"))
        note = document["rule"].get("note")
        if not note:
            continue
        transform = document.get("transform")
        guide = render_guide(note, transform, {"host": {"id": "h"}})
        rendered += 1
        blocks += guide.count("**Investigate in Timeline:") + guide.count("**Osquery:")
        assert "!{" not in guide and "unreadable" not in guide, path
        leftovers += [(path.name, found) for found in
                      re.findall(r"\$(?:investigate|osquery)_\d+", guide)]
    assert rendered > 900 and blocks > 500
    # two corpus notes name one entry more than their [transform] holds: kept as written
    assert leftovers == [("persistence_insmod_kernel_module_load.toml", "$osquery_6"),
                         ("credential_access_high_volume_of_pbpaste.toml", "$investigate_2")]


def test_filters_in_words() -> None:
    providers = [[
        {"field": "process.name", "excluded": True, "queryType": "phrase", "value": "a.exe"},
        {"field": "dll.name", "excluded": "true", "queryType": "exists", "value": ""},
    ], [
        {"field": "user.name", "excluded": False, "queryType": "phrases",
         "value": '["root","{{user.name}}"]'},
        {"field": "event.duration", "excluded": False, "queryType": "range",
         "value": '{"gte":10,"lt":20}'},
        {"field": "host.name", "excluded": False, "queryType": "exists", "value": ""},
    ]]
    note = ('!{investigate{"label":"Q","description":"Look here","providers":'
            + json.dumps(providers) + "}}")
    assert render_guide(note, None, {"user": {"name": "bob"}}).splitlines() == [
        "**Investigate in Timeline: Q** — Look here",
        "- `process.name` is not `a.exe` (excluded) and `dll.name` does not exist (excluded)",
        "- or `user.name` is one of `root`, `bob` and `event.duration` is in the range "
        "≥ `10`, < `20` and `host.name` exists",
    ]


def test_unreadable_blocks_are_kept_and_flagged() -> None:
    guide = render_guide('Before !{osquery{"label": "x", "query": }} after', None, None)
    assert guide.startswith('Before !{osquery{"label": "x", "query": }} *(unreadable osquery '
                            "block: Expecting value")
    assert guide.endswith(" after")
    assert render_guide("text !{osquery} and !{investigate", None, None) == \
        "text !{osquery} and !{investigate"


def test_alert_values_from_nested_dotted_and_array_fields() -> None:
    alert = {"process": {"parent": {"name": "explorer.exe"}, "args": ["-a", "-b"]},
             "host.os": {"type": "windows"}, "kibana.alert.rule.name": "R",
             "threat": {"enrichments": [{"indicator": {"ip": "1.2.3.4"}},
                                        {"indicator": {"ip": "5.6.7.8"}}]},
             "flag": True, "empty": None}
    assert field_objects(alert, "process.parent.name") == ["explorer.exe"]
    assert field_objects(alert, "host.os.type") == ["windows"]
    assert field_objects(alert, "kibana.alert.rule.name") == ["R"]
    assert field_objects(alert, "threat.enrichments.indicator.ip") == ["1.2.3.4", "5.6.7.8"]
    assert field_objects(alert, "empty") == [] and field_objects(alert, "nothere") == []
    assert fill_templates("{{ process.args }} / {{flag}} / {{nope}} / {{nope}}", alert) == (
        "-a, -b / true / {{nope}} / {{nope}}", ["nope"])


def test_text_after_a_block_goes_below_it() -> None:
    note = "- Check: $osquery_0 then compare.\n- Next"
    transform = {"osquery": [{"label": "DNS", "query": "SELECT * FROM dns_cache"}]}
    assert render_guide(note, transform).splitlines() == [
        "- Check: **Osquery: DNS**", "", "  ```sql", "  SELECT * FROM dns_cache", "  ```",
        "  then compare.", "- Next"]
