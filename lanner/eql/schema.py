"""The field schema EQL queries are checked against: flat field name -> Elasticsearch type.

The packaged schema (data/fields.json.gz) is built by tools/build_schema.py from ECS, Elastic
Defend, the endpoint/windows/system integrations, Endgame, detection-rules' non-ECS fields and
Beats. It answers three questions for the validator: is a field known, what is its type (to check
comparisons now and to type event-store columns later), and which known name did a misspelt one
probably mean.
"""

from __future__ import annotations

import difflib
import functools
import gzip
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources

# Sub-fields of an open object (labels, container.labels, winlog.event_data, flattened fields)
# are free-form; dynamic `object_type: keyword` mappings and flattened fields make them keywords.
OPEN_OBJECT_SUBFIELD_TYPE = "keyword"

# How similar a suggestion must be (difflib ratio) to be worth showing at all.
CUTOFF = 0.6


class FieldSchema:
    """Field name -> Elasticsearch type, for checking queries and later typing columns."""

    def __init__(
        self,
        fields: Mapping[str, str],
        arrays: Iterable[str] = (),
        open_objects: Iterable[str] = (),
    ) -> None:
        self._fields = dict(fields)
        self._arrays = frozenset(arrays)
        self._open = frozenset(open_objects)

    @classmethod
    def default(cls) -> FieldSchema:
        """The packaged schema; loaded once per process."""
        return _packaged()

    def type_of(self, name: str) -> str | None:
        """The field's type; "keyword" under an open object (`labels.env`); None if unknown."""
        found = self._fields.get(name)
        if found is not None:
            return found
        if self._open and any(prefix in self._open for prefix in _ancestors(name)):
            return OPEN_OBJECT_SUBFIELD_TYPE
        return None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.type_of(name) is not None

    def __len__(self) -> int:
        return len(self._fields)

    def is_array(self, name: str) -> bool:
        """True for fields ECS documents as multi-valued (`event.category`, `process.args`)."""
        return name in self._arrays

    def closest(self, name: str, limit: int = 3) -> list[str]:
        """Known field names closest to `name`, best first; [] when none is reasonably close."""
        return self._index.closest(name, limit)

    def merged(self, extra: Mapping[str, str]) -> FieldSchema:
        """A new schema with `extra` fields added or overriding (custom fields, index mappings)."""
        return FieldSchema({**self._fields, **extra}, self._arrays, self._open)

    @functools.cached_property
    def _index(self) -> _SuggestionIndex:
        # Built on the first unknown field only: a run with none never pays for it.
        return _SuggestionIndex(self._fields)


def closest_names(name: str, known: Iterable[str], limit: int = 3) -> list[str]:
    """The names of `known` closest to `name`, best first: the schema's suggestions, for
    any set of names (a store's fields, say)."""
    return _SuggestionIndex(known).closest(name, limit)


class _SuggestionIndex:
    """Finds likely intended field names fast, without comparing against every known name.

    Typos usually touch one or two path segments, so a misspelt name is first repaired segment
    by segment: each unknown segment is replaced by the known segments one edit away (a
    deletion, insertion, substitution or transposition, as in Norvig's spelling corrector),
    walking only through prefixes of known names, so the work stays small. When that fails,
    the names under the query's parent (`process.excutabl`) or, if the parent is unknown,
    those with the query's last segment (`proc.args`) are compared with difflib. Candidates
    are ranked by difflib's ratio on the whole lower-cased name; case-only mistakes resolve
    directly.
    """

    def __init__(self, fields: Iterable[str]) -> None:
        self._by_lower: dict[str, list[str]] = {}
        self._children: defaultdict[str, list[str]] = defaultdict(list)  # parent -> leaves
        self._parents: defaultdict[str, list[str]] = defaultdict(list)  # leaf -> parents
        for name in fields:
            lower = name.lower()
            same_lower = self._by_lower.get(lower)
            if same_lower is not None:
                same_lower.append(name)
                continue
            self._by_lower[lower] = [name]
            parent, _, leaf = lower.rpartition(".")
            self._children[parent].append(leaf)
            self._parents[leaf].append(parent)
        # Lower-cased names and their ancestors (fields of their own in the packaged schema).
        self._paths = set(self._by_lower)
        for lower in self._by_lower:
            parent = lower.rpartition(".")[0]
            while parent and parent not in self._paths:
                self._paths.add(parent)
                parent = parent.rpartition(".")[0]
        self._segments = {segment for path in self._paths for segment in path.split(".")}
        self._alphabet = sorted({char for segment in self._segments for char in segment})

    def closest(self, name: str, limit: int) -> list[str]:
        query = name.lower()
        if query in self._by_lower:
            return self._by_lower[query][:limit]
        parts = query.split(".")
        candidates = self._repaired(parts) & self._by_lower.keys()
        if not candidates and len(parts) > 1:
            parent, _, leaf = query.rpartition(".")
            known_parents = self._repaired(parts[:-1])
            if known_parents:
                candidates = self._siblings(known_parents, leaf)
            else:
                candidates = self._namesakes(parent, leaf)
        scorer = difflib.SequenceMatcher(b=query, autojunk=False)
        scored: list[tuple[float, str]] = []
        for candidate in candidates:
            scorer.set_seq1(candidate)
            ratio = scorer.ratio()
            if ratio >= CUTOFF:
                scored.append((-ratio, candidate))
        found: list[str] = []
        for _, candidate in sorted(scored):
            found.extend(self._by_lower[candidate])
        return found[:limit]

    def _variants(self, segment: str) -> set[str]:
        """The segment if known, else the known segments one edit away from it."""
        if segment in self._segments:
            return {segment}
        splits = [(segment[:cut], segment[cut:]) for cut in range(len(segment) + 1)]
        edits = {head + tail[1:] for head, tail in splits if tail}
        edits.update(head + tail[1] + tail[0] + tail[2:] for head, tail in splits if len(tail) > 1)
        for char in self._alphabet:
            edits.update(head + char + tail[1:] for head, tail in splits if tail)
            edits.update(head + char + tail for head, tail in splits)
        return edits & self._segments

    def _repaired(self, parts: list[str]) -> set[str]:
        """Known paths (names or their ancestors) reached by repairing each unknown segment."""
        prefixes = [""]
        for segment in parts:
            variants = self._variants(segment)
            prefixes = [
                joined
                for prefix in prefixes
                for variant in variants
                if (joined := f"{prefix}.{variant}" if prefix else variant) in self._paths
            ]
            if not prefixes:
                return set()
        return set(prefixes)

    def _siblings(self, parents: Iterable[str], leaf: str) -> set[str]:
        """Names under a known parent whose last segment is close (`process.excutabl`).

        A known parent says which namespace was meant: `github.category` must not suggest
        `event.category`.
        """
        found: set[str] = set()
        for parent in parents:
            leaves = self._children.get(parent, [])
            for close in difflib.get_close_matches(leaf, leaves, n=10, cutoff=CUTOFF):
                found.add(f"{parent}.{close}")
        return found

    def _namesakes(self, parent: str, leaf: str) -> set[str]:
        """Names with the same last segment whose parent is close (`proc.args`)."""
        parents = self._parents.get(leaf, [])
        close = difflib.get_close_matches(parent, parents, n=10, cutoff=CUTOFF)
        return {f"{known}.{leaf}" for known in close}


def _ancestors(name: str) -> Iterator[str]:
    """`a.b.c` -> `a`, `a.b`."""
    end = name.find(".")
    while end != -1:
        yield name[:end]
        end = name.find(".", end + 1)


@functools.cache
def _packaged() -> FieldSchema:
    """The packaged schema file, read and parsed once per process (~120 KB gzip, ~10 ms)."""
    data = resources.files("lanner.eql").joinpath("data/fields.json.gz").read_bytes()
    document = json.loads(gzip.decompress(data))
    return FieldSchema(document["fields"], document["arrays"], document["open_objects"])
