"""Build lanner/eql/data/fields.json.gz, the field schema EQL queries are checked against.

The schema is derived from the field definitions Elastic's own rule tooling validates with
(see shared/ecs/README.md) and merged into one mapping `flat field name -> Elasticsearch type`.
Run it again whenever those sources change:

    python3 tools/build_schema.py [--shared ../shared]

Precedence when sources disagree on a type: ECS, then Elastic Defend / integration packages,
then the rest (Endgame, non-ECS rule schema, Beats). The output is deterministic.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "lanner" / "eql" / "data" / "fields.json.gz"

# Type names that are not Elasticsearch field types, mapped to the type Elasticsearch ends up with.
# (`array` is settled per source: with sub-fields an array of objects, else a list of strings.)
TYPE_NAMES = {"group": "object", "string": "keyword", "number": "long"}

# Elasticsearch field types; anything else in the output means a source changed shape.
ES_TYPES = frozenset(
    {
        "aggregate_metric_double", "alias", "binary", "boolean", "byte", "completion",
        "constant_keyword", "counted_keyword", "date", "date_nanos", "date_range", "dense_vector",
        "double", "double_range", "flattened", "float", "float_range", "geo_point", "geo_shape",
        "half_float", "histogram", "integer", "integer_range", "ip", "ip_range", "join",
        "keyword", "long", "long_range", "match_only_text", "nested", "object", "percolator",
        "point", "rank_feature", "rank_features", "scaled_float", "search_as_you_type",
        "semantic_text", "shape", "short", "sparse_vector", "text", "token_count",
        "unsigned_long", "version", "wildcard",
    }
)  # fmt: skip

# Beats folders holding templates and test fixtures rather than shipped field definitions.
BEATS_SKIP_FOLDERS = frozenset({"test", "tests", "testdata", "scripts"})


class Source:
    """Field types and free-form objects gathered from one source file."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.types: dict[str, str] = {}
        # Objects whose sub-fields are dynamic: a `*` in a name, or a Beats/ECS `object_type`.
        self.dynamic: set[str] = set()
        # Beats aliases: alias name -> target field; typed as the target once all is merged.
        self.aliases: dict[str, str] = {}

    def add(self, name: str, type_name: str | None) -> None:
        """Record `name`; the first type a source gives a name wins within that source."""
        name = name.strip()
        if "*" in name:
            # A dynamic template: the fixed prefix holds free-form sub-fields. A bare namespace
            # (`aws.*.metrics.*.*`, `prometheus.*.value`) is not opened: that would let any
            # misspelt field of the namespace through.
            prefix = name.split("*", 1)[0].rstrip(".")
            if "." in prefix:
                self.dynamic.add(prefix)
                self.types.setdefault(prefix, "object")
            return
        self.types.setdefault(name, normalize_type(type_name))

    def settle_arrays(self) -> None:
        """`array` is no Elasticsearch type: object if it has sub-fields, else keyword."""
        parents = {parent for name in self.types for parent in ancestors(name)}
        for name, type_name in self.types.items():
            if type_name == "array":
                self.types[name] = "object" if name in parents else "keyword"


def ancestors(name: str) -> Iterator[str]:
    """`a.b.c` -> `a`, `a.b`."""
    parts = name.split(".")
    for end in range(1, len(parts)):
        yield ".".join(parts[:end])


def normalize_type(type_name: str | None) -> str:
    """Map a source's type name to an Elasticsearch type name (Beats defaults to keyword)."""
    if not type_name:
        return "keyword"
    type_name = type_name.strip().lower()
    return TYPE_NAMES.get(type_name, type_name)


def load_json(path: Path) -> Any:
    """Read a JSON file, gzip-compressed or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def read_ecs(path: Path) -> tuple[Source, set[str]]:
    """ECS flat schema: every field, its multi-fields, and which fields are arrays."""
    data: dict[str, dict[str, Any]] = load_json(path)
    source = Source(f"ECS 9.5.0 flat schema ({path.name}), with multi-fields")
    arrays: set[str] = set()
    for name, spec in data.items():
        source.add(name, spec.get("type"))
        if spec.get("object_type"):
            source.dynamic.add(name)
        if "array" in (spec.get("normalize") or []):
            arrays.add(name)
        for multi in spec.get("multi_fields") or []:
            source.add(multi.get("flat_name") or f"{name}.{multi['name']}", multi.get("type"))
    return source, arrays


def read_flat(path: Path, description: str) -> Source:
    """A plain `field -> type` mapping (Defend process fields, Endgame's ECS field list)."""
    source = Source(description)
    for name, type_name in sorted(load_json(path).items()):
        source.add(name, type_name)
    return source


def read_integrations(path: Path) -> Source:
    """Integration packages: package -> data_streams -> stream -> {field: type}; all merged."""
    data: dict[str, dict[str, Any]] = load_json(path)
    packages = ", ".join(f"{name} {data[name].get('version', '?')}" for name in sorted(data))
    source = Source(f"integration package schemas, all data streams ({path.name}: {packages})")
    for package in sorted(data):
        streams = data[package].get("data_streams") or {}
        for stream in sorted(streams):
            for name, type_name in sorted(streams[stream].items()):
                source.add(name, type_name)
    return source


def flatten_nested(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """Walk a dict whose keys are names or dotted names and whose leaves are type strings."""
    for key, value in sorted(tree.items()):
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from flatten_nested(value, f"{name}.")
        else:
            yield name, value


def read_non_ecs(path: Path) -> Source:
    """detection-rules' non-ECS schema: index pattern -> nested/dotted fields; all merged."""
    data: dict[str, Any] = load_json(path)
    source = Source(f"detection-rules non-ECS fields, all {len(data)} index patterns ({path.name})")
    for pattern in sorted(data):
        for name, type_name in flatten_nested(data[pattern]):
            source.add(name, type_name)
    return source


def beats_field_files(node: Mapping[str, Any]) -> Iterator[tuple[list[Any], list[list[Any]]]]:
    """Yield (module fields.yml, [fields.yml of its sub-folders]) for every folder, depth first.

    Mirrors how Beats assembles its fields.yml: a fileset/metricset's own `_meta/fields.yml`
    holds bare field entries that are nested inside its module's definition.
    """
    folders: Mapping[str, Any] = node.get("folders") or {}
    meta = (folders.get("_meta") or {}).get("files") or {}
    for file_name in ("fields.common.yml", "fields.yml"):
        own = meta.get(file_name)
        if not isinstance(own, list):
            continue
        children = []
        if file_name == "fields.yml":
            for name in sorted(folders):
                if name in BEATS_SKIP_FOLDERS or name == "_meta":
                    continue
                sub_meta = ((folders[name].get("folders") or {}).get("_meta") or {}).get("files")
                sub = (sub_meta or {}).get("fields.yml")
                if isinstance(sub, list) and not any("key" in item for item in sub):
                    children.append(sub)
        yield own, children
    for name in sorted(folders):
        if name not in BEATS_SKIP_FOLDERS and name != "_meta":
            yield from beats_field_files(folders[name])


def beats_entries(own: list[Any], children: list[list[Any]]) -> list[Any]:
    """The field entries of one module file, with its sub-folders' entries nested in place.

    Beats indents a sub-folder's entries under the last group of the module file (or, when the
    module file's section has no fields at all, directly into that section).
    """
    sections = [item for item in own if isinstance(item, dict) and "key" in item]
    entries = [field for section in sections for field in section.get("fields") or []]
    if not children:
        return entries
    extra = [field for child in children for field in child]
    last_fields = sections[-1].get("fields") if sections else None
    if not last_fields:
        return entries + extra
    group = dict(last_fields[-1])
    if group.get("type") != "group":
        # Only x-pack prometheus: its sub-folders define no fields, so nothing is lost.
        if any(field.get("fields") for field in extra if isinstance(field, dict)):
            print(f"warning: sub-folder fields not nested: {extra}", file=sys.stderr)
        return entries
    group["fields"] = [*(group.get("fields") or []), *extra]
    return [*entries[:-1], group]


def add_beats_fields(source: Source, entries: Iterable[Any], prefix: str = "") -> None:
    """Flatten Beats field entries: groups prefix their children, other fields carry a type."""
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        kids = entry.get("fields") or []
        if not entry["name"].strip():
            add_beats_fields(source, kids, prefix)  # a nameless group adds no prefix
            continue
        name = f"{prefix}{entry['name'].strip()}"
        type_name = entry.get("type")
        if type_name == "group" and not kids:
            continue  # an empty group (a module placeholder) defines no field
        if type_name == "alias" and entry.get("path"):
            source.aliases.setdefault(name, entry["path"])
        source.add(name, type_name)
        if entry.get("object_type") and "*" not in name:
            source.dynamic.add(name)
        for multi in entry.get("multi_fields") or []:
            source.add(f"{name}.{multi['name']}", multi.get("type"))
        add_beats_fields(source, kids, f"{name}.")


def read_beats(path: Path) -> Source:
    """Beats field definitions (fields.yml format, nested by beat and folder), every beat."""
    data: dict[str, Any] = load_json(path)
    source = Source(f"Beats 9.5.0 fields.yml of {', '.join(sorted(data))} ({path.name})")
    for beat in sorted(data):
        for own, children in beats_field_files(data[beat]):
            add_beats_fields(source, beats_entries(own, children))
    return source


def merge(sources: list[Source]) -> tuple[dict[str, str], set[str]]:
    """Merge sources in precedence order; return the fields and the free-form objects."""
    fields: dict[str, str] = {}
    for source in sources:
        source.settle_arrays()
        for name, type_name in source.types.items():
            fields.setdefault(name, type_name)
    for source in sources:
        for name, target in source.aliases.items():
            if fields.get(name) == "alias" and fields.get(target, "alias") != "alias":
                fields[name] = fields[target]
    for name in list(fields):
        for parent in ancestors(name):
            fields.setdefault(parent, "object")
    # Free-form: objects with no known sub-field, flattened fields, and objects some source
    # declares dynamic (`labels`, `winlog.event_data` list a few sub-fields, yet take any).
    parents = {parent for name in fields for parent in ancestors(name)}
    open_objects = {
        name
        for name, type_name in fields.items()
        if type_name == "flattened" or (type_name == "object" and name not in parents)
    }
    for source in sources:
        open_objects |= {name for name in source.dynamic if fields[name] == "object"}
    return fields, open_objects


SUPPLEMENT = Path(__file__).resolve().parent / "schema_supplement.json"


def build(shared: Path) -> dict[str, Any]:
    """Read every source under shared/ecs and return the schema document."""
    ecs_dir = shared / "ecs"
    ecs, arrays = read_ecs(ecs_dir / "ecs_flat-9.5.0.json.gz")
    sources = [
        ecs,
        # detection-rules' hand-kept corrections come right after ECS, as its validator layers
        # them: they type file.Ext.windows.zone_identifier as the number rules compare it to.
        read_non_ecs(ecs_dir / "non-ecs-schema.json"),
        read_flat(
            ecs_dir / "endpoint_process.json.gz",
            "Elastic Defend process.Ext fields (endpoint_process.json.gz)",
        ),
        read_integrations(ecs_dir / "integration-schemas-endpoint-windows-system.json.gz"),
        read_flat(
            ecs_dir / "endgame_ecs_mapping-8.4.0.json.gz",
            "Endgame 8.4.0 fields (endgame_ecs_mapping-8.4.0.json.gz)",
        ),
        read_beats(ecs_dir / "beats-9.5.0.json.gz"),
        # Elastic Defend fields that prebuilt rules use and none of the files above lists
        # (Defend's index template maps them); kept by hand in tools/.
        read_flat(SUPPLEMENT, "Elastic Defend fields the others lack (schema_supplement.json)"),
    ]
    fields, open_objects = merge(sources)
    unknown = {type_name for type_name in fields.values() if type_name not in ES_TYPES}
    if unknown:
        raise SystemExit(f"not Elasticsearch field types: {sorted(unknown)}")
    return {
        "version": 1,
        "sources": [source.description for source in sources],
        "fields": fields,
        "arrays": sorted(arrays),
        "open_objects": sorted(open_objects),
    }


def write(document: Mapping[str, Any], path: Path) -> int:
    """Write compact, key-sorted gzip JSON with a zero mtime so rebuilds are byte-identical."""
    payload = json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(payload, compresslevel=9, mtime=0))
    return path.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    document = build(args.shared)
    size = write(document, args.output)
    print(
        f"{args.output}: {len(document['fields'])} fields, {len(document['arrays'])} arrays, "
        f"{len(document['open_objects'])} open objects, {size} bytes"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
