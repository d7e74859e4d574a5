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

# Sub-fields of an open object (labels, container.labels, flattened fields) are free-form; both
# dynamic `object_type: keyword` objects and flattened fields index them as keywords.
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


class _SuggestionIndex:
    """Finds likely intended field names fast, without comparing against every known name.

    Typos usually touch one or two path segments, so a misspelt name is repaired segment by
    segment: each segment is replaced by known segments within one edit (a deletion index,
    as in SymSpell), walking only through prefixes of known names, so the work stays small.
    When that fails, the names that share the query's parent (`process.excutabl`) or its last
    segment (`proc.args`) are compared with difflib. Candidates are ranked by difflib's ratio
    on the whole lower-cased name, and case-only mistakes resolve directly.
    """

    def __init__(self, fields: Iterable[str]) -> None:
        self._by_lower: dict[str, list[str]] = {}
        self._children: defaultdict[str, list[str]] = defaultdict(list)  # parent -> leaves
        self._by_leaf: defaultdict[str, list[str]] = defaultdict(list)  # leaf -> names
        for name in fields:
            lower = name.lower()
            same_lower = self._by_lower.get(lower)
            if same_lower is not None:
                same_lower.append(name)
                continue
            self._by_lower[lower] = [name]
            parent, _, leaf = lower.rpartition(".")
            self._children[parent].append(leaf)
            self._by_leaf[leaf].append(lower)
        # Lower-cased names and their ancestors (fields of their own in the packaged schema).
        self._paths = set(self._by_lower)
        for lower in self._by_lower:
            parent = lower.rpartition(".")[0]
            while parent and parent not in self._paths:
                self._paths.add(parent)
                parent = parent.rpartition(".")[0]
        # Segment with one character deleted (or none) -> segments: the SymSpell deletion index.
        self._neighbours: defaultdict[str, list[str]] = defaultdict(list)
        for segment in {segment for path in self._paths for segment in path.split(".")}:
            for variant in _deletions(segment):
                self._neighbours[variant].append(segment)

    def closest(self, name: str, limit: int) -> list[str]:
        query = name.lower()
        if query in self._by_lower:
            return self._by_lower[query][:limit]
        parts = query.split(".")
        candidates = self._repaired(parts) & self._by_lower.keys()
        if not candidates:
            candidates = self._siblings(parts) | self._namesakes(query, parts[-1])
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
        """Known segments within one insertion, deletion, substitution or transposition."""
        # Under `segment` itself: it, or known segments one character longer. Under `segment`
        # minus a character: known segments one shorter, or with one character changed/swapped.
        neighbours = self._neighbours
        return {known for shorter in _deletions(segment) for known in neighbours.get(shorter, ())}

    def _repaired(self, parts: list[str]) -> set[str]:
        """Known paths (names or their ancestors) reached by replacing each segment's variants."""
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

    def _siblings(self, parts: list[str]) -> set[str]:
        """Names under the query's (possibly repaired) parent whose last segment is close."""
        if len(parts) < 2:
            return set()
        found: set[str] = set()
        for parent in self._repaired(parts[:-1]):
            leaves = self._children.get(parent, [])
            for leaf in difflib.get_close_matches(parts[-1], leaves, n=10, cutoff=CUTOFF):
                found.add(f"{parent}.{leaf}")
        return found

    def _namesakes(self, query: str, leaf: str) -> set[str]:
        """Names ending in the query's (possibly repaired) last segment that are close overall."""
        variants = self._variants(leaf)
        names = [name for variant in variants for name in self._by_leaf.get(variant, ())]
        return set(difflib.get_close_matches(query, names, n=10, cutoff=CUTOFF))


def _deletions(word: str) -> Iterator[str]:
    """`word` itself and every string made by deleting one of its characters."""
    yield word
    for index in range(len(word)):
        yield word[:index] + word[index + 1 :]


def _ancestors(name: str) -> Iterator[str]:
    """`a.b.c` -> `a`, `a.b`."""
    end = name.find(".")
    while end != -1:
        yield name[:end]
        end = name.find(".", end + 1)


@functools.cache
def _packaged() -> FieldSchema:
    data = resources.files("lanner.eql").joinpath("data/fields.json.gz").read_bytes()
    document = json.loads(gzip.decompress(data))
    return FieldSchema(document["fields"], document["arrays"], document["open_objects"])
