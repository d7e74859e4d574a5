"""Byte streams under the readers: decompression that keeps what can be read, UTF-16 as UTF-8,
and lines read in blocks, with a bound on their length and blank lines skipped in C.

A stream that cannot go on raises StreamCut only once everything before the problem has been
read, so that the reader keeps every line up to it and reports where it stopped.
"""

from __future__ import annotations

import bz2
import codecs
import io
import zlib
from collections.abc import Callable, Iterator
from typing import IO, NamedTuple

BLOCK_BYTES = 1 << 20  # read at a time by the line reader and the decompressors
GZIP_MAGIC = b"\x1f\x8b"
BZIP2_MAGIC = b"BZh"

# 0 for each byte bytes.strip removes, 1 for the others: the marks of a block, searched for 1,
# skip a run of blank lines in one C call.
_TEXT_MARKS = bytes(0 if byte in b" \t\n\r\x0b\x0c" else 1 for byte in range(256))
# Lines of a block are split at once when they average at least this many bytes; a block
# with more lines than that (blank ones) goes from the text of one line to the next.
SPLIT_BYTES = 32
COMPRESSED_READ_BYTES = 64 * 1024  # read at a time from compressed data (see origin)


class StreamCut(Exception):
    """The data ends here: truncated, followed by garbage, or over a limit. Raised once all
    the data before it has been returned; the message says why, without 'after line N'."""


class Skipped(NamedTuple):
    """A line that was not read: its number and why (the reader makes it a BadLine)."""

    line: int
    message: str


class Decompressed(io.RawIOBase):
    """The decompressed bytes of gzip or bzip2 data, member after member as `zcat` reads them.

    Unlike gzip.GzipFile and bz2.BZ2File, which raise and lose what they decompressed, this
    returns every byte it could decompress, then raises StreamCut: the data ends before its
    end marker, is followed by something that is not another member (zero padding is fine),
    or came out more than `max_ratio` times larger than the compressed bytes `origin()` says
    were read at the outermost layer (checked past `floor` bytes)."""

    def __init__(self, raw: IO[bytes], kind: str, *, max_ratio: float, floor: int,
                 origin: Callable[[], int] | None = None) -> None:
        self._raw = raw
        self.kind = kind  # "gzip" or "bzip2"
        self._magic = GZIP_MAGIC if kind == "gzip" else BZIP2_MAGIC
        self._decompressor = self._new()
        self._input = b""  # compressed bytes read, not yet given to the decompressor
        self._output = b""  # decompressed bytes not returned yet
        self.consumed = 0  # compressed bytes read from `raw`
        self.produced = 0
        self._origin = origin or self.used
        self._max_ratio = max_ratio
        self._floor = floor
        self._cut: str | None = None  # why the data ended early, once its output is returned
        self._finished = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        size = len(buffer)
        while not self._output:
            if self._cut is not None:
                raise StreamCut(self._cut)
            if self._finished:
                return 0
            self._step(size)
        count = min(size, len(self._output))
        buffer[:count] = self._output[:count]
        self._output = self._output[count:]
        return count

    def _new(self) -> zlib._Decompress | bz2.BZ2Decompressor:
        return zlib.decompressobj(31) if self.kind == "gzip" else bz2.BZ2Decompressor()

    def _read(self) -> bytes:
        data = self._raw.read(COMPRESSED_READ_BYTES)
        self.consumed += len(data)
        return data

    def used(self) -> int:
        """Compressed bytes given to the decompressor (bzip2 may hold some of them)."""
        return self.consumed - len(self._input)

    def _step(self, size: int) -> None:
        """Decompress some more into `_output`, or set `_cut` or `_finished`."""
        decompressor = self._decompressor
        if decompressor.eof:
            self._next_member(decompressor.unused_data if self.kind == "gzip" else self._input)
            return
        try:
            if isinstance(decompressor, bz2.BZ2Decompressor):
                data = b""
                if decompressor.needs_input:
                    data = self._input or self._read()
                    if not data:
                        self._cut = f"the {self.kind} data ends early (the file is truncated)"
                        return
                out = decompressor.decompress(data, size)
                self._input = decompressor.unused_data if decompressor.eof else b""
            else:
                data = self._input or self._read()
                if not data:
                    self._output = decompressor.flush()
                    if not decompressor.eof:
                        self._cut = f"the {self.kind} data ends early (the file is truncated)"
                    return
                out = decompressor.decompress(data, size)
                self._input = b"" if decompressor.eof else decompressor.unconsumed_tail
        except (OSError, EOFError, zlib.error) as error:
            self._cut = f"the {self.kind} data is corrupt ({error})"
            return
        self._output = out
        self.produced += len(out)
        if (self.produced > self._floor
                and self.produced > self._max_ratio * max(self._origin(), 1)):
            self._cut = (f"the data decompresses to more than {self._max_ratio:g} times its "
                         "compressed size (a decompression bomb?); the limit is "
                         "LANNER_MAX_COMPRESSION_RATIO")

    def _next_member(self, rest: bytes) -> None:
        """After a member's end: another member, zero padding, the end, or garbage."""
        while True:
            if self.kind == "gzip":
                rest = rest.lstrip(b"\x00")
            if len(rest) >= len(self._magic):
                break
            more = self._read()
            if not more:
                break
            rest += more
        if not rest:
            self._finished = True
        elif rest.startswith(self._magic):
            self._decompressor = self._new()
            self._input = rest
        else:
            self._cut = f"trailing garbage after the {self.kind} data (ignored, as zcat does)"


class Metered(io.RawIOBase):
    """An archive member's decompressed bytes, cut (StreamCut) past `max_ratio` times the
    compressed bytes `used()` says were read; the archive's own errors (a bad CRC) become
    StreamCut too. Read in small pieces: zipfile reads compressed data as output is asked."""

    def __init__(self, stream: IO[bytes], used: Callable[[], int], *, max_ratio: float,
                 floor: int) -> None:
        self._stream = stream
        self.used = used
        self.produced = 0
        self._max_ratio = max_ratio
        self._floor = floor

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if (self.produced > self._floor
                and self.produced > self._max_ratio * max(self.used(), 1)):
            raise StreamCut(f"the archive member decompresses to more than {self._max_ratio:g} "
                            "times its compressed size (a decompression bomb?); the limit is "
                            "LANNER_MAX_COMPRESSION_RATIO")
        try:
            data = self._stream.read(min(len(buffer), COMPRESSED_READ_BYTES))
        except Exception as error:  # zipfile.BadZipFile, zlib.error, EOFError, ...
            raise StreamCut(f"the archive member is corrupt ({error})") from None
        count = len(data)
        buffer[:count] = data
        self.produced += count
        return count


class Transcoded(io.RawIOBase):
    """UTF-16 text as UTF-8 bytes (its byte order mark dropped). A lone surrogate comes out as
    bytes no JSON parser accepts, so it costs its line only; half a character at the end is
    a StreamCut."""

    def __init__(self, raw: IO[bytes], encoding: str) -> None:
        self._raw = raw
        self.encoding = encoding
        self._decoder = codecs.getincrementaldecoder(encoding)("surrogatepass")
        self._output = b""
        self._finished = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._output:
            if self._finished:
                return 0
            data = self._raw.read(BLOCK_BYTES)
            self._finished = not data
            try:
                text = self._decoder.decode(data, self._finished)
            except UnicodeDecodeError as error:
                self._finished = True
                raise StreamCut(f"the {self.encoding.upper()} text is broken "
                                f"({error.reason})") from None
            self._output = text.encode("utf-8", "surrogatepass")
        count = min(len(buffer), len(self._output))
        buffer[:count] = self._output[:count]
        self._output = self._output[count:]
        return count


def utf16_encoding(head: bytes) -> str | None:
    """The UTF-16 encoding of a text starting with these bytes: told by its byte order mark,
    or by JSON's first character (`{`, `[`) beside a zero byte; None if it is not UTF-16."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(head) >= 2 and head[0] in b"{[" and head[1] == 0:
        return "utf-16-le"
    if len(head) >= 2 and head[0] == 0 and head[1] in b"{[":
        return "utf-16-be"
    return None


class LineReader:
    """The lines of a byte stream as (number, text), blank ones left out where they are many
    (the text of the others is to be stripped); a line over `max_line` bytes as Skipped, read
    through without being held. If the stream was cut, `cut` says why (StreamCut's message),
    the iteration ends there, and the line it fell in is not given but left in `partial`.

    The stream is read in blocks (read1 where it has it: no data is held back when a read
    fails); a run of blank lines costs one regex search and one count, not a step per line."""

    def __init__(self, stream: IO[bytes], max_line: int, first_line: int = 1) -> None:
        self._stream = stream
        self._read = getattr(stream, "read1", stream.read)
        self.max_line = max_line
        self.number = first_line  # of the line being read
        self.last_line = 0  # at the end: the number of the last line, one without its newline too
        self.cut: str | None = None
        self.partial: tuple[int, bytes] | None = None  # the line the cut fell in, if any
        self._block = b""
        self._position = 0  # in `_block`, after the last line given

    def rest(self) -> bytes:
        """The bytes after the last line given (its newline first), the stream's rest too."""
        return self._block[self._position:] + self._stream.read()

    def __iter__(self) -> Iterator[tuple[int, bytes] | Skipped]:
        pieces: list[bytes] = []  # of the line being read, which began in an earlier block
        held = 0  # their length
        skipping = False  # through a line over the limit
        limit = self.max_line
        while True:
            try:
                block = self._read(BLOCK_BYTES)
            except StreamCut as cut:
                self.cut = str(cut) or "the data ends early"
                block = b""
            if not block:
                break
            self._block, self._position = block, 0
            start = 0
            if skipping or pieces:
                end = block.find(b"\n")
                if end < 0:
                    if not skipping:
                        pieces.append(block)
                        held += len(block)
                        if held > limit:
                            pieces, held, skipping = [], 0, True
                    continue
                if skipping:
                    yield self._too_long()
                else:
                    text = b"".join(pieces) + block[:end]
                    self._position = end
                    if held + end > limit:
                        yield self._too_long()
                    elif text.strip():
                        yield self.number, text.lstrip()
                pieces, held, skipping = [], 0, False
                self.number += 1
                start = end + 1
            last = block.rfind(b"\n")
            if last >= start and block.count(b"\n", start, last) * SPLIT_BYTES < last - start:
                # lines of some length, not runs of blank ones: one split beats a find per line
                position = start
                for text in block[start:last].split(b"\n"):
                    position += len(text) + 1
                    self._position = position - 1
                    if len(text) > limit:
                        yield self._too_long()
                    else:
                        yield self.number, text
                    self.number += 1
                start = last + 1
            elif last >= start:
                # many blank lines: jump from text to text (memchr over a mark per byte)
                marks = block.translate(_TEXT_MARKS)
                count, find, find_mark = block.count, block.find, marks.find
                position = start
                while (begin := find_mark(b"\x01", position, last)) >= 0:
                    self.number += count(b"\n", position, begin)
                    position = find(b"\n", begin, last + 1)
                    self._position = position
                    if position - begin > limit:
                        yield self._too_long()
                    else:
                        yield self.number, block[begin:position]
                self.number += count(b"\n", position, last + 1)
                start = last + 1
            if start < len(block):
                pieces.append(block[start:])
                held = len(block) - start
                if held > limit:
                    pieces, held, skipping = [], 0, True
        self._block, self._position = b"", 0
        self.last_line = self.number if skipping or pieces else self.number - 1
        if skipping:
            yield self._too_long()
        elif pieces:
            text = b"".join(pieces)
            if self.cut is not None:
                self.partial = (self.number, text.lstrip())
            elif text.strip():
                yield self.number, text.lstrip()

    def _too_long(self) -> Skipped:
        return Skipped(self.number, f"line longer than {self.max_line} bytes skipped (the "
                                    "limit is LANNER_MAX_LINE_BYTES)")
