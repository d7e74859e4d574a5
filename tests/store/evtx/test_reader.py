"""Reading EVTX files: every shared recording without a crash, damaged files record by record,
and the readers' dispatch (folders, magic bytes) that lets `lanner hunt` take .evtx inputs."""

from __future__ import annotations

from pathlib import Path

from lanner.store import EventStore, find_event_files, read_file
from lanner.store.evtx import read_evtx, split_command_line, split_on_unquoted_whitespace
from lanner.store.readers import BadLine, Record
from tests.conftest import require_shared

EVTX = Path(__file__).parents[3] / ".." / "shared" / "data" / "real" / "evtx"
SYSMON_FILE = EVTX / "EVTX-ATTACK-SAMPLES" / "UACME_59_Sysmon.evtx"
SECURITY_FILE = (EVTX / "EVTX-to-MITRE-Attack" / "TA0007-Discovery"
                 / "T1069-Permission Groups Discovery" / "ID4662-Domain group enumeration CME.evtx")


def test_every_shared_recording_is_read() -> None:
    require_shared()
    files = find_event_files([EVTX])
    assert len(files) == 558 and all(path.suffix == ".evtx" for path in files)
    with EventStore() as store:
        report = store.ingest_files(files)
        assert report.bad_lines == []
        assert store.count() == 18270
        indices = dict(store.con.execute(
            "SELECT _index, count(*) FROM events GROUP BY _index").fetchall())
    assert indices["logs-system.security-default"] == 9184
    assert indices["logs-windows.sysmon_operational-default"] == 3354
    assert indices["logs-windows.forwarded-default"] == 3321


def test_corrupt_records_are_reported_and_reading_goes_on(tmp_path: Path) -> None:
    require_shared()
    data = bytearray(SECURITY_FILE.read_bytes())
    for offset in range(4096 + 600, 4096 + 65536, 997):  # damage records of the first chunk
        data[offset] ^= 0x5A
    damaged = tmp_path / "damaged.evtx"
    damaged.write_bytes(bytes(data))
    items = list(read_file(damaged))
    bad = [item for item in items if isinstance(item, BadLine)]
    good = [item for item in items if isinstance(item, Record)]
    assert bad and good
    assert all(item.path == str(damaged) and item.message.startswith("record ") for item in bad)
    assert bad[0].message.split(":")[0].removeprefix("record ").isdigit()


def test_truncated_and_headerless_files(tmp_path: Path) -> None:
    require_shared()
    truncated = tmp_path / "truncated.evtx"
    truncated.write_bytes(SYSMON_FILE.read_bytes()[:100_000])
    records = [item for item in read_evtx(truncated) if isinstance(item, Record)]
    assert records and records[0].index == "logs-windows.sysmon_operational-default"
    broken = tmp_path / "broken.evtx"
    broken.write_bytes(b"ElfFile\x00" + b"\x00" * 40)
    (item,) = read_file(broken)
    assert isinstance(item, BadLine) and item.message.startswith("not a readable EVTX file")


def test_windows_command_line_splitting() -> None:
    assert split_command_line('"C:\\a b\\x.exe"  -c "x \\"y\\"" z\\\\"') == [
        "C:\\a b\\x.exe", "-c", 'x "y"', 'z\\']
    # "" inside quotes: a literal quote that ends the quoting; the next quote opens it again
    assert split_command_line('a "b""c" d') == ["a", 'b"c d']
    assert split_command_line("a\\\\\\\"b") == ['a\\"b']
    assert split_on_unquoted_whitespace('"C:\\x y.exe"  /c dir') == [
        '"C:\\x y.exe"', "", "/c", "dir"]
    assert split_on_unquoted_whitespace("a ") == ["a", ""]
