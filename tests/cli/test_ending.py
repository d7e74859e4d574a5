"""How the `lanner` process ends: the exit codes and output of `sys.exit`, exit handlers and
threads honoured, without freeing what a command kept (lanner.cli.ending)."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import weakref
from pathlib import Path

from lanner.cli import ending
from tests.conftest import EXAMPLES, ROOT

ENV = {**os.environ, "NO_COLOR": "1"}


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=ENV, cwd=ROOT, check=False)


def test_a_hunt_ends_with_its_whole_output_and_code(tmp_path: Path) -> None:
    alerts = tmp_path / "alerts.ndjson"
    done = subprocess.run([sys.executable, "-m", "lanner", "hunt", "--rules", str(EXAMPLES),
                           str(ROOT / "examples" / "events"), "--quiet", "--log-format", "json",
                           "--output", str(alerts)],
                          capture_output=True, text=True, env=ENV, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["alerts"]["total"] == 8
    assert len(alerts.read_text().splitlines()) == summary["alerts"]["documents"]


def test_a_failing_command_keeps_its_exit_code() -> None:
    done = subprocess.run([sys.executable, "-m", "lanner", "hunt", "--rules",
                           str(EXAMPLES), "no-such-folder"],
                          capture_output=True, text=True, env=ENV, cwd=ROOT, check=False)
    assert done.returncode == 2
    assert "no-such-folder" in done.stderr


def test_exit_handlers_run_and_threads_finish_before_the_end(tmp_path: Path) -> None:
    mark = tmp_path / "written-by-a-thread"
    done = python(
        "import atexit, threading, time\n"
        "from lanner.cli import ending\n"
        "ending.hold()\n"
        "atexit.register(lambda: print('handler ran', flush=True))\n"
        f"threading.Thread(target=lambda: (time.sleep(0.2), open({str(mark)!r}, 'w'))).start()\n"
        "print('before the end', end='')\n"
        "ending.end(3)\n")
    assert done.returncode == 3
    assert done.stdout == "before the endhandler ran\n"
    assert mark.exists()


def test_text_given_as_the_code_is_printed_and_fails() -> None:
    done = python("from lanner.cli import ending\nending.end('cannot go on')\n")
    assert (done.returncode, done.stderr) == (1, "cannot go on\n")


def test_in_process_callers_keep_nothing() -> None:
    class Result:
        pass

    result = Result()
    gone = weakref.ref(result)
    ending.keep_to_the_end(result)
    del result
    gc.collect()
    assert gone() is None


def test_a_profiled_run_ends_as_the_interpreter_does() -> None:
    done = subprocess.run([sys.executable, "-m", "cProfile", "-s", "ncalls", "-m", "lanner",
                           "--version"],
                          capture_output=True, text=True, env=ENV, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    assert "lanner " in done.stdout and "function calls" in done.stdout  # the profile's report
