"""ES mappings and value coercion: the conformance suite's mapping files, shapes, dates."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest

from lanner.store import FieldMapping, MappingError, load_mapping_file, mappings, parse_mapping
from lanner.store.mappings import coercer, date_parser, duckdb_type
from tests.conftest import CONFORMANCE, require_shared
from tests.linear_regex import backtracking_repeats

DATA = CONFORMANCE / "data"


def nanos(text: str) -> int:
    """Epoch nanoseconds of an ISO instant, through Python's own parser (micro precision)."""
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1_000


def test_conformance_endgame_mapping() -> None:
    require_shared()
    fields = parse_mapping(load_mapping_file(DATA / "endgame-140.mapping"))
    assert fields["event_type"] == FieldMapping("keyword")  # the placeholder is keyword
    assert fields["event.category"] == FieldMapping("alias", alias_path="event_type")
    assert fields["event.sequence"] == FieldMapping("alias", alias_path="serial_event_id")
    assert fields["event"].type == "object"
    assert fields["hostname"] == FieldMapping("text", keyword_subfield="hostname.keyword")
    assert fields["hostname.keyword"] == FieldMapping("keyword", alias_path="hostname",
                                                      ignore_above=256)
    assert fields["source_address"].type == "ip"
    assert fields["serial_event_id"].type == "long"
    assert fields["timestamp"].type == "date"


def test_conformance_extra_mapping_null_value_and_version() -> None:
    require_shared()
    fields = parse_mapping(load_mapping_file(DATA / "extra.mapping"))
    assert fields["optional_field_default_null"] == FieldMapping("keyword", null_value="NULL")
    assert fields["optional_field_mapping_only"] == FieldMapping("keyword")
    assert fields["version"].type == "version"
    assert duckdb_type("version") == "VARCHAR"


def test_every_conformance_mapping_loads() -> None:
    require_shared()
    for path in sorted(DATA.glob("*.mapping")):
        fields = parse_mapping(load_mapping_file(path))
        assert fields["event.category"].alias_path == "event_type", path.name


def test_mapping_shapes_are_equivalent() -> None:
    properties = {"process": {"properties": {"pid": {"type": "long"}}}}
    expected = {"process": FieldMapping("object"), "process.pid": FieldMapping("long")}
    assert parse_mapping(properties) == expected
    assert parse_mapping({"properties": properties}) == expected
    assert parse_mapping({"mappings": {"properties": properties}}) == expected
    assert parse_mapping({"my-index": {"mappings": {"properties": properties}}}) == expected
    assert parse_mapping({"mappings": {"_doc": {"properties": properties}}}) == expected


def test_dotted_names_in_a_mapping_get_object_parents() -> None:
    fields = parse_mapping({"properties": {"process.parent.name": {"type": "keyword"}}})
    assert fields["process"].type == "object"
    assert fields["process.parent"].type == "object"
    assert fields["process.parent.name"].type == "keyword"


def test_alias_to_a_missing_field_is_rejected() -> None:
    with pytest.raises(MappingError, match="event_kind"):
        parse_mapping({"properties": {"kind": {"type": "alias", "path": "event_kind"}}})


def test_unknown_date_format_letter_is_rejected() -> None:
    with pytest.raises(MappingError, match="pattern letter"):
        parse_mapping({"properties": {"t": {"type": "date", "format": "yyyy-QQ"}}})


def test_mapping_file_with_a_syntax_error_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.mapping"
    path.write_text('# comment\n{\n  "properties": {\n    "a": {"type": "long"},\n  }\n}\n')
    with pytest.raises(MappingError) as caught:
        load_mapping_file(path)
    assert caught.value.location is not None
    assert caught.value.location.line == 4  # the trailing comma


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-10-05T20:43:58.350Z", nanos("2020-10-05T20:43:58.350Z")),
        ("2020-10-05T20:43:58Z", nanos("2020-10-05T20:43:58Z")),
        ("2020-10-05T22:43:58.350+02:00", nanos("2020-10-05T20:43:58.350Z")),
        ("2020-10-05T15:43:58.350-0500", nanos("2020-10-05T20:43:58.350Z")),
        ("2020-10-05", nanos("2020-10-05T00:00:00Z")),
        ("2020-10", nanos("2020-10-01T00:00:00Z")),
        ("2023-01-09T19:38:51.5141503Z", nanos("2023-01-09T19:38:51Z") + 514_150_300),
        ("1974-03-03T02:22:54.294365140Z", nanos("1974-03-03T02:22:54Z") + 294_365_140),
        ("1", 1_000_000),  # epoch millis as text, as the conformance data has them
        ("1516116808349", 1_516_116_808_349_000_000),
        ("-1", -1_000_000),
        ("134006400000.123456", 134_006_400_000_123_456),  # millis with a nanosecond part
        ("1969-12-31T23:59:59.999999999Z", -1),
    ],
)
def test_default_date_format(text: str, expected: int) -> None:
    assert date_parser(None)(text) == expected


@pytest.mark.parametrize("text", ["2020-13-01", "2020-02-30", "2020-10-05T24:00:00Z", "soon", "",
                                  "\u0662\u0660\u0662\u0660-10-05", "\u0661\u0665\u0661\u0666"])
def test_default_date_format_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="failed to parse date"):
        date_parser(None)(text)


def test_custom_date_formats_read_ascii_digits_only() -> None:
    """Java's formatters read ASCII digits; Python's `\\d` alone would take Arabic-Indic ones."""
    with pytest.raises(ValueError):
        date_parser("yyyy-MM-dd")("\u0662\u0660\u0662\u0662-12-17")


def test_custom_date_formats_of_the_sample_indices() -> None:
    assert date_parser("dd-MM-yyyy")("12-12-2022") == nanos("2022-12-12T00:00:00Z")
    assert date_parser("yyyy-MM-dd")("2022-12-17") == nanos("2022-12-17T00:00:00Z")
    with pytest.raises(ValueError):
        date_parser("dd-MM-yyyy")("2022-12-17")
    either = date_parser("yyyy/MM/dd HH:mm:ss||epoch_second")
    assert either("2022/12/17 10:30:00") == nanos("2022-12-17T10:30:00Z")
    assert either("1671273000") == nanos("2022-12-17T10:30:00Z")
    assert date_parser("strict_date")("2022-12-17") == nanos("2022-12-17T00:00:00Z")
    assert date_parser("dd MMM yyyy")("05 Oct 2020") == nanos("2020-10-05T00:00:00Z")


def test_date_coercion_takes_json_numbers_as_epoch_millis() -> None:
    to_date = coercer("date")
    assert to_date(1516116808349) == 1_516_116_808_349_000_000
    assert to_date(1.5) == 1_500_000
    assert to_date("2020-10-05T20:43:58.350Z") == nanos("2020-10-05T20:43:58.350Z")
    with pytest.raises(ValueError, match="outside the range"):
        to_date(116444736000000000)  # a FILETIME read as millis: year 3.7 million
    with pytest.raises(ValueError):
        to_date(True)
    with pytest.raises(ValueError, match="outside the range"):
        coercer("date_nanos")("1969-12-31T23:59:59Z")  # date_nanos starts at the epoch


def test_integer_coercion_follows_es_coerce() -> None:
    to_long = coercer("long")
    assert to_long(12) == 12
    assert to_long("12") == 12
    assert to_long(1.9) == 1  # the fraction is truncated
    assert to_long("-3.7") == -3
    for bad in ("abc", True, "1_000", " 12", float("nan")):
        with pytest.raises(ValueError):
            to_long(bad)
    with pytest.raises(ValueError, match="out of range"):
        to_long(2**63)
    with pytest.raises(ValueError, match="out of range"):
        coercer("integer")(2**31)
    with pytest.raises(ValueError, match="out of range"):
        coercer("unsigned_long")(-1)
    assert coercer("unsigned_long")(2**64 - 1) == 2**64 - 1


def test_other_coercions() -> None:
    to_double = coercer("double")
    assert to_double(1) == 1.0
    assert to_double("1.5") == 1.5
    with pytest.raises(ValueError):
        to_double("1.5x")
    to_boolean = coercer("boolean")
    assert to_boolean(True) is True
    assert to_boolean("false") is False
    assert to_boolean("") is False
    with pytest.raises(ValueError):
        to_boolean("yes")
    with pytest.raises(ValueError):
        to_boolean(1)
    to_keyword = coercer("keyword")
    assert to_keyword(512) == "512"
    assert to_keyword(True) == "true"
    assert to_keyword(1.5) == "1.5"
    to_ip = coercer("ip")
    assert to_ip("10.0.0.1") == "10.0.0.1"
    assert to_ip("2001:DB8:0:0:0:0:0:1") == "2001:db8::1"
    assert to_ip("::ffff:10.0.0.1") == "10.0.0.1"
    with pytest.raises(ValueError, match="not an IP"):
        to_ip("10.0.0.256")
    with pytest.raises(ValueError, match="cannot hold"):
        coercer("object")("x")


# ------------------------------------------------------------------------------------------
# Every regex run on event values is linear (issue 17): no input makes one backtrack.


def test_the_linearity_check_finds_a_backtracking_regex() -> None:
    assert backtracking_repeats(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")  # the old one
    assert backtracking_repeats(r"(?:a{1,3}|(b+))c")
    assert not backtracking_repeats(r"[+-]?+(?:\d++(?:\.\d*+)?+|\.\d++)")


def test_every_regex_applied_to_values_is_linear_by_construction() -> None:
    compiled = [value for value in vars(mappings).values() if isinstance(value, re.Pattern)]
    assert len(compiled) >= 4  # integers, numbers, ISO dates, epochs
    formats = ["EEEMMMdd", "EEE, dd MMM yyyy HH:mm:ss Z", "MMMMyyyy", "LLLuuuu",
               "yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "yyyy[-MM[-dd]]", "dd/MM/yy nnnnnnnnn x"]
    compiled += [mappings._pattern_regex(name)[0] for name in formats]
    compiled += [mappings._pattern_regex(named)[0]
                 for named in mappings._NAMED_FORMATS.values() if isinstance(named, str)]
    assert {str(p): backtracking_repeats(p) for p in compiled
            if backtracking_repeats(p)} == {}


@pytest.mark.parametrize("size", [10_000, 100_000, 200_000])
def test_adversarial_numbers_and_dates_are_refused_or_read_right(size: int) -> None:
    ones = "1" * size
    for es_type in ("long", "integer", "unsigned_long"):
        with pytest.raises(ValueError, match="cannot index"):
            coercer(es_type)(ones + "x")
        with pytest.raises(ValueError, match="out of range"):
            coercer(es_type)(ones)
    assert coercer("long")("0" * size + "42") == 42  # leading zeros: still 42, as Java reads it
    with pytest.raises(ValueError, match="cannot index"):
        coercer("double")(ones + ".1e")
    with pytest.raises(ValueError, match="not a finite number"):
        coercer("double")(ones + "." + ones)
    assert coercer("double")("1." + ones) == pytest.approx(1.1111111111111111)
    with pytest.raises(ValueError, match="failed to parse date"):
        coercer("date")(ones + "x")
    with pytest.raises(ValueError, match="failed to parse date"):
        coercer("date", "EEEMMMdd||epoch_second")("a" * size + "1")
