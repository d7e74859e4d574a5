"""Request bodies and response filtering: a size bound, gzip and deflate, `filter_path`."""

from __future__ import annotations

import fnmatch
import zlib
from typing import Any

from starlette.requests import Request

from lanner.server.errors import ElasticError, parsing


def too_large(limit: int) -> ElasticError:
    return ElasticError(413, "content_too_long_exception",
                        f"request body is larger than the limit of [{limit}] bytes "
                        "(lanner serve --max-body-bytes)")


async def read_body(request: Request, limit: int) -> bytes:
    """The body, decompressed as its Content-Encoding says; past `limit` bytes, sent or
    decompressed, a 413."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity") or not body:
        return body
    if encoding in ("gzip", "x-gzip"):
        return _inflate(body, 31, limit)
    if encoding == "deflate":
        try:
            return _inflate(body, 15, limit)  # zlib-wrapped, as HTTP says
        except ElasticError as error:
            if error.status == 413:
                raise
            return _inflate(body, -15, limit)  # raw deflate, as some clients send
    raise ElasticError(415, "illegal_argument_exception",
                       f"unsupported Content-Encoding [{encoding}]: gzip or deflate")


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as error:
        raise parsing(f"the request body could not be decompressed: {error}") from None
    if len(out) > limit:
        raise too_large(limit)
    return out


# -- filter_path ---------------------------------------------------------------------------------

_MISSING = object()


def filter_path(value: Any, spec: str | None) -> Any:
    """`value` filtered as Elasticsearch's `filter_path`: comma-separated dotted paths with `*`
    and `**` wildcards keep what they reach; a leading `-` removes it instead. Arrays are
    passed through; objects left empty are dropped."""
    if not spec:
        return value
    paths = [part.strip() for part in spec.split(",") if part.strip()]
    include = [p.split(".") for p in paths if not p.startswith("-")]
    exclude = [p[1:].split(".") for p in paths if p.startswith("-")]
    if exclude:
        value = _exclude(value, exclude)
    if include:
        kept = _include(value, include)
        value = {} if kept is _MISSING else kept
    return value


def _step(key: str, patterns: list[list[str]]) -> list[list[str]]:
    """The patterns that go on below `key`."""
    out: list[list[str]] = []
    for pattern in patterns:
        if not pattern:
            continue
        head = pattern[0]
        if head == "**":
            out.append(pattern)  # ** reaches any depth
            out.extend(_step(key, [pattern[1:]]))
        elif fnmatch.fnmatchcase(key, head):
            out.append(pattern[1:])
    return out


def _include(value: Any, patterns: list[list[str]]) -> Any:
    if any(not pattern for pattern in patterns):
        return value
    if isinstance(value, list):
        kept = [_include(item, patterns) for item in value]
        kept = [item for item in kept if item is not _MISSING]
        return kept if kept else _MISSING
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            below = _step(key, patterns)
            if below:
                kept = _include(item, below)
                if kept is not _MISSING:
                    out[key] = kept
        return out if out else _MISSING
    return _MISSING


def _exclude(value: Any, patterns: list[list[str]]) -> Any:
    if isinstance(value, list):
        return [_exclude(item, patterns) for item in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        below = _step(key, patterns)
        if any(not pattern for pattern in below):
            continue
        out[key] = _exclude(item, below) if below else item
    return out
