"""A folder that keeps receiving events: new files, and lines appended to NDJSON files.

Each poll stores what arrived since the last one. NDJSON files (`.ndjson`, `.jsonl`) are read
line by line from where the last poll stopped, only up to their last complete line; other
event files (JSON arrays, exports, gzip) are read whole once their size has stopped changing
between two polls. Positions are kept in the database, so a restart goes on where it stopped
and nothing is stored twice.
"""

from __future__ import annotations

from pathlib import Path

from lanner.store.events import EventStore, IngestReport
from lanner.store.readers import find_event_files, read_appended, read_file

APPENDABLE_SUFFIXES = (".ndjson", ".jsonl")
_TABLE = "ingest_positions"
_WHOLE = -1  # line marker of a file read whole


class FolderWatch:
    """Ingests a folder's new events into a store, poll by poll."""

    def __init__(self, store: EventStore, folder: str | Path) -> None:
        self.store = store
        self.folder = Path(folder)
        store.con.execute(f"CREATE TABLE IF NOT EXISTS {_TABLE} "
                          "(path VARCHAR PRIMARY KEY, byte_offset BIGINT, line BIGINT)")
        self._sizes: dict[Path, int] = {}  # sizes seen at the last poll, for whole files
        # read once; every later change goes through _save, which writes it through
        self._positions: dict[str, tuple[int, int]] = {
            path: (offset, line) for path, offset, line in
            store.con.execute(f"SELECT path, byte_offset, line FROM {_TABLE}").fetchall()}

    def poll(self) -> IngestReport:
        """Store what arrived since the last poll; the report covers this poll only."""
        report = IngestReport()
        if not self.folder.is_dir():
            return report
        for path in find_event_files([self.folder]):
            offset, line = self._positions.get(str(path), (0, 1))
            size = path.stat().st_size
            if path.suffix in APPENDABLE_SUFFIXES:
                if size <= offset:
                    continue
                items, offset, line = read_appended(path, offset, line)
                report += self.store.ingest_items(items, str(path))
                self._save(path, offset, line)
            elif line != _WHOLE and self._sizes.get(path) == size:
                report += self.store.ingest_items(read_file(path), str(path))
                self._save(path, size, _WHOLE)
            self._sizes[path] = size
        return report

    def _save(self, path: Path, offset: int, line: int) -> None:
        self._positions[str(path)] = (offset, line)
        self.store.con.execute(
            f"INSERT OR REPLACE INTO {_TABLE} VALUES (?, ?, ?)", [str(path), offset, line])
