"""The packaged field schema: real field types from each source, open objects, suggestions."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import pytest

from lanner.eql.schema import FieldSchema

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
PACKAGED = ROOT / "lanner" / "eql" / "data" / "fields.json.gz"

TYPOS = {
    "process.nmae": "process.name",
    "proces.name": "process.name",
    "process.parent.executabel": "process.parent.executable",
    "proc.args": "process.args",
    "event.catgory": "event.category",
    "Process.Name": "process.name",
}


@pytest.fixture(scope="module")
def schema() -> FieldSchema:
    return FieldSchema.default()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # ECS
        ("@timestamp", "date"),
        ("process.name", "keyword"),
        ("process.pid", "long"),
        ("process.command_line", "wildcard"),
        ("source.ip", "ip"),
        ("event.category", "keyword"),
        ("process.args_count", "long"),
        ("data_stream.dataset", "constant_keyword"),
        # ECS multi-field (Defend says `text`; ECS wins)
        ("process.command_line.text", "match_only_text"),
        # Elastic Defend process.Ext and the endpoint integration
        ("process.Ext.session_info.id", "unsigned_long"),
        ("process.Ext.token.integrity_level_name", "keyword"),
        ("process.command_line.caseless", "keyword"),
        ("file.Ext.header_bytes", "keyword"),
        # the integration's `double` beats the non-ECS schema's `long`
        ("file.Ext.entropy", "long"),
        ("dll.Ext.relative_file_creation_time", "double"),
        ("Target.process.name", "keyword"),
        # windows integration, system integration
        ("powershell.file.script_block_text", "text"),
        # Endgame's field list (not in ECS 9.5.0)
        ("client.user.effective.name", "keyword"),
        # detection-rules non-ECS schema, nested and dotted
        ("endgame.event_subtype_full", "keyword"),
        ("endgame.metadata.type", "keyword"),
        ("winlog.event_data.TargetUserName", "keyword"),
        ("kubernetes.audit.requestObject.spec.hostPID", "boolean"),
        # Beats: winlogbeat, auditbeat, filebeat filesets nested under their module
        ("winlog.logon.type", "keyword"),
        ("winlog.event_data.SubjectUserName", "keyword"),
        ("sysmon.file.archived", "boolean"),
        ("auditd.data.syscall", "keyword"),
        ("auditd.summary.actor.primary", "keyword"),
        ("system.audit.host.os.name", "keyword"),
        ("aws.cloudtrail.user_identity.type", "keyword"),
        ("o365.audit.Actor", "object"),
        ("o365.audit.Actor.ID", "keyword"),
        # a Beats alias takes its target's type (user.auid -> user.audit.id)
        ("user.auid", "keyword"),
        # parents of known fields
        ("process", "object"),
        ("process.parent", "object"),
        ("labels", "object"),
    ],
)
def test_known_field_types(schema: FieldSchema, name: str, expected: str) -> None:
    assert schema.type_of(name) == expected
    assert name in schema


def test_size(schema: FieldSchema) -> None:
    assert len(schema) > 20_000


@pytest.mark.parametrize(
    "name",
    ["labels.anything", "labels.env", "container.labels.app", "winlog.event_data.NotListed"],
)
def test_open_object_subfields_are_keywords(schema: FieldSchema, name: str) -> None:
    assert schema.type_of(name) == "keyword"
    assert name in schema


@pytest.mark.parametrize(
    "name",
    ["process.nmae", "nope.nothing", "process.name.extra", "zzz_qqq", "", "process."],
)
def test_unknown_fields(schema: FieldSchema, name: str) -> None:
    assert schema.type_of(name) is None
    assert name not in schema


def test_arrays(schema: FieldSchema) -> None:
    assert schema.is_array("event.category")
    assert schema.is_array("process.args")
    assert not schema.is_array("process.name")
    assert not schema.is_array("no.such.field")


@pytest.mark.parametrize(("typo", "meant"), TYPOS.items())
def test_closest_finds_intended_field_first(schema: FieldSchema, typo: str, meant: str) -> None:
    assert schema.closest(typo)[0] == meant


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("process.excutabl", "process.executable"),
        ("proces.parnt.nmae", "process.parent.name"),
        ("winlog.event_data.TargetUsrName", "winlog.event_data.TargetUserName"),
        ("file.Ext.windows.zone_identifer", "file.Ext.windows.zone_identifier"),
        ("process.pe.original_filename", "process.pe.original_file_name"),
    ],
)
def test_closest_more_typos(schema: FieldSchema, typo: str, meant: str) -> None:
    assert schema.closest(typo)[0] == meant


@pytest.mark.parametrize("name", ["zzz_qqq", "process.foo", "a", "github.category"])
def test_closest_gives_nothing_far_fetched(schema: FieldSchema, name: str) -> None:
    # github.* is known: suggesting event.category for github.category would mislead.
    assert schema.closest(name) == []


def test_closest_limit(schema: FieldSchema) -> None:
    assert len(schema.closest("processor.name", limit=3)) == 3
    assert schema.closest("processor.name", limit=1) == ["process.name"]


def test_default_is_loaded_once() -> None:
    assert FieldSchema.default() is FieldSchema.default()


def test_merged_adds_and_overrides(schema: FieldSchema) -> None:
    merged = schema.merged({"custom.score": "float", "process.name": "text"})
    assert merged.type_of("custom.score") == "float"
    assert merged.type_of("process.name") == "text"
    assert merged.type_of("labels.env") == "keyword"
    assert merged.is_array("event.category")
    assert merged.closest("custom.scroe") == ["custom.score"]
    assert len(merged) == len(schema) + 1
    assert schema.type_of("process.name") == "keyword"
    assert "custom.score" not in schema


def test_small_schema() -> None:
    small = FieldSchema(
        {"host.name": "keyword", "host.ip": "ip", "tags": "keyword", "meta": "flattened"},
        arrays=["tags"],
        open_objects=["meta"],
    )
    assert len(small) == 4
    assert small.type_of("meta.a.b") == "keyword"
    assert small.type_of("host.nme") is None
    assert small.closest("host.nme") == ["host.name"]
    assert small.closest("hots.ip") == ["host.ip"]
    assert small.is_array("tags")


def test_packaged_file_is_up_to_date(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("build_schema", ROOT / "tools/build_schema.py")
    assert spec is not None and spec.loader is not None
    build_schema = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_schema)
    rebuilt = tmp_path / "fields.json.gz"
    build_schema.main(["--shared", str(SHARED), "--output", str(rebuilt)])
    # Compare the JSON, not the gzip bytes: another zlib may compress the same text differently.
    assert gzip.decompress(rebuilt.read_bytes()) == gzip.decompress(PACKAGED.read_bytes())
