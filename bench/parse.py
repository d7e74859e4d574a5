"""Benchmark Lanner's EQL front end on the whole detection-rules corpus, against the `eql` package.

    .venv/bin/python bench/parse.py [--runs 7] [--shared ../shared]

Measures, over every rule file of shared/corpus/detection-rules-eql and shared/rules/seed:
(a) loading the TOML files, (b) parsing and checking every query against the packaged field
schema, (c) parsing only, and (a)+(b) in one go, which is what `lanner rules validate` costs.
(b) and (c) run over query strings loaded beforehand, so they time the language front end
alone. The peer is the AGPL `eql` package, run by bench/peers/eql_peer.py in its own venv
(bench/.venv-eql, made on first use) so that it never enters Lanner's venv.

Every measurement gets one untimed warm-up, then `--runs` timed runs; the table gives the
median and the best run. Results go to stdout and to bench/results/parse.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import lanner
from lanner import eql
from lanner.eql.schema import FieldSchema
from lanner.rules import Rule, load_rules

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PEER_VENV = BENCH / ".venv-eql"
PEER_PYTHON = PEER_VENV / "bin" / "python"
PEER_SCRIPT = BENCH / "peers" / "eql_peer.py"
RESULTS = BENCH / "results" / "parse.md"

# The project's bar: parsing and checking the whole corpus takes under this many seconds.
BAR_SECONDS = 0.5


class Runs:
    """The median and best of a measurement's timed runs: what every benchmark's record of
    one measurement reports (`times` is the record's own field)."""

    __slots__ = ()
    times: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def best(self) -> float:
        return min(self.times)


@dataclass(frozen=True, slots=True)
class Timing(Runs):
    """The timed runs of one measurement, each over `count` items (files or queries)."""

    label: str
    times: list[float]
    count: int
    unit: str = "queries"


    @property
    def per_item(self) -> float:
        """Median seconds per item: comparable even when two tools time different counts."""
        return self.median / self.count

    @property
    def rate(self) -> str:
        """Items per second at the median run, with the unit."""
        return f"{self.count / self.median:,.0f} {self.unit}/s"


@dataclass(frozen=True, slots=True)
class LannerResult:
    """Lanner's four timings, the EQL rules they covered, and the queries its parser rejected."""

    load: Timing
    check: Timing
    parse: Timing
    end_to_end: Timing
    rules: list[Rule]
    rejected: list[str]


@dataclass(frozen=True, slots=True)
class PeerResult:
    """What eql_peer.py reports: eql's version, its timing, and the queries eql rejected."""

    version: str
    parse: Timing
    failures: list[str]


def time_runs(work: Callable[[], object], runs: int, warm_up: bool = True) -> list[float]:
    """Seconds of each of `runs` calls, after one untimed call (unless `warm_up` is false) so
    lazy set-up stays out."""
    if warm_up:
        work()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return times


def median_ms(runs: int, work: Callable[[], object]) -> float:
    """Median milliseconds of `runs` calls of `work`, after one untimed warm-up call."""
    return statistics.median(time_runs(work, runs)) * 1000


def bench_lanner(paths: list[Path], runs: int) -> LannerResult:
    """Time Lanner's loader and front end; the schema is loaded before any timing."""
    rules, load_errors = load_rules(paths)
    if load_errors:
        failed = "\n".join(map(str, load_errors))
        sys.exit(f"cannot benchmark: rule files failed to load:\n{failed}")
    schema = FieldSchema.default()
    eql_rules = [rule for rule in rules if rule.is_eql]
    checked = [(rule.query, rule.category_field) for rule in eql_rules]

    # Like the peer, time parse-only over the queries that parse, and list the others.
    parsed: list[str] = []
    rejected: list[str] = []
    for rule in eql_rules:
        try:
            eql.parse(rule.query)
        except eql.EqlError as error:
            rejected.append(f"{rule.path}: {str(error).splitlines()[0]}")
        else:
            parsed.append(rule.query)

    def load() -> None:
        load_rules(paths)

    def check() -> None:
        for query, field in checked:
            eql.validate(query, schema, field)

    def parse() -> None:
        for query in parsed:
            eql.parse(query)

    def load_and_check() -> None:
        for rule in load_rules(paths)[0]:
            if rule.is_eql:
                eql.validate(rule.query, schema, rule.category_field)

    return LannerResult(
        load=Timing("lanner (a) load TOML files", time_runs(load, runs), len(rules), "files"),
        check=Timing("lanner (b) parse + check", time_runs(check, runs), len(checked)),
        parse=Timing("lanner (c) parse only", time_runs(parse, runs), len(parsed)),
        end_to_end=Timing("lanner (a)+(b) rules validate", time_runs(load_and_check, runs),
                          len(rules), "files"),
        rules=eql_rules,
        rejected=rejected,
    )


def run(command: list[str | Path]) -> str:
    """A command's stdout; on failure, stop with its output so the cause is visible."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed: {shlex.join(map(str, command))}\n{done.stdout}{done.stderr}")
    return done.stdout


def ensure_peer_venv() -> None:
    """Make bench/.venv-eql with eql installed, once: eql is AGPL and stays out of .venv."""
    if not PEER_PYTHON.exists():
        print(f"creating {PEER_VENV.relative_to(ROOT)} ...", file=sys.stderr)
        run(["python3", "-m", "venv", PEER_VENV])
    if subprocess.run([PEER_PYTHON, "-c", "import eql"], capture_output=True).returncode != 0:
        print(f"installing eql into {PEER_VENV.relative_to(ROOT)} ...", file=sys.stderr)
        run([PEER_PYTHON, "-m", "pip", "install", "--quiet", "eql"])


def bench_peer(rules: list[Rule], runs: int) -> PeerResult:
    """Run eql_peer.py in the peer venv over the same query strings Lanner timed."""
    ensure_peer_venv()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "queries.json"
        path.write_text(json.dumps([rule.query for rule in rules]), encoding="utf-8")
        report = json.loads(run([PEER_PYTHON, PEER_SCRIPT, path, "--runs", str(runs)]))
    failures = [f"{rules[f['index']].path}: {f['error']}" for f in report["failures"]]
    timing = Timing(f"eql {report['version']} parse (peer)", report["times_s"], report["timed"])
    return PeerResult(report["version"], timing, failures)


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, which `platform` does not give on Linux."""
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        return platform.processor() or "unknown"
    names = (line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    return next(names, platform.processor() or "unknown")


def command_line() -> str:
    """How this run was started, with the interpreter relative to the current folder, and
    `-m module` for a module run (whose sys.argv[0] is the file's full path)."""
    python = os.path.relpath(sys.executable)
    if python.startswith(".."):
        python = sys.executable
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    script = ["-m", spec.name] if spec is not None else sys.argv[:1]
    return shlex.join([python, *script, *sys.argv[1:]])


@dataclass(frozen=True, slots=True)
class Report:
    """Every figure of one benchmark run, formatted once for both stdout and Markdown."""

    lanner: LannerResult
    peer: PeerResult
    runs: int
    corpus: str  # the folders the rules came from

    @property
    def timings(self) -> list[Timing]:
        ours = self.lanner
        return [ours.load, ours.check, ours.parse, ours.end_to_end, self.peer.parse]

    def ratios(self) -> list[tuple[str, float]]:
        """eql's median time per query over Lanner's: above 1 means Lanner is faster."""
        peer = self.peer.parse.per_item
        return [
            ("eql parse / lanner parse only", peer / self.lanner.parse.per_item),
            ("eql parse / lanner parse + check", peer / self.lanner.check.per_item),
        ]

    def bar(self) -> str:
        check = self.lanner.check
        verdict = "PASS" if check.median < BAR_SECONDS else "FAIL"
        return (f"bar: parse + check of all {check.count:,} queries under {BAR_SECONDS} s: "
                f"median {check.median:.3f} s -> {verdict}")

    def notes(self) -> list[str]:
        """Failures on either side, which also mean the two timed different query sets."""
        lines = []
        for tool, failures in (("lanner", self.lanner.rejected), ("eql", self.peer.failures)):
            lines.append(f"{tool} rejected {len(failures)} of {len(self.lanner.rules):,} "
                         "queries" + (" (timed over the others):" if failures else "."))
            lines.extend(f"  {failure}" for failure in failures)
        return lines

    def text(self) -> str:
        width = max(len(timing.label) for timing in self.timings)
        lines = [f"{'measurement':<{width}}  {'median ms':>10}  {'min ms':>10}  {'rate':>16}"]
        lines += [f"{t.label:<{width}}  {t.median * 1e3:>10.1f}  {t.best * 1e3:>10.1f}  "
                  f"{t.rate:>16}" for t in self.timings]
        lines.append("")
        lines += [f"{name}: {ratio:.2f}x" for name, ratio in self.ratios()]
        lines += [self.bar(), *self.notes()]
        return "\n".join(lines)

    def markdown(self) -> str:
        ours = self.lanner
        lines = [
            "## EQL front end: Lanner against eql",
            "",
            f"- machine: {platform.platform()}, {cpu_model()}, {os.cpu_count()} cores",
            f"- Python {platform.python_version()}",
            f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='minutes')}",
            f"- lanner {lanner.__version__}; eql {self.peer.version} (in bench/.venv-eql)",
            f"- corpus: {ours.load.count:,} rule files ({self.corpus}), "
            f"{len(ours.rules):,} EQL queries",
            "- eql parses as detection-rules does: `elasticsearch_syntax`, "
            "`ignore_missing_functions`, and `allow_negation`, `allow_runs`, `allow_sample`",
            f"- {self.runs} timed runs per measurement, after one untimed warm-up",
            f"- command: `{command_line()}`",
            "",
            "| measurement | median ms | min ms | rate |",
            "|---|---:|---:|---:|",
        ]
        lines += [f"| {t.label} | {t.median * 1e3:.1f} | {t.best * 1e3:.1f} | {t.rate} |"
                  for t in self.timings]
        lines.append("")
        lines += [f"- {name} (median per query): **{ratio:.2f}x**" for name, ratio in self.ratios()]
        lines += [f"- {self.bar()}", ""]
        lines += ["```", *self.notes(), "```", ""]
        return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per measurement")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared",
                        help="the shared/ folder beside the project (default: ../shared)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    paths = [args.shared / "corpus" / "detection-rules-eql", args.shared / "rules" / "seed"]

    lanner_result = bench_lanner(paths, args.runs)
    peer_result = bench_peer(lanner_result.rules, args.runs)
    corpus = ", ".join(os.path.relpath(path, ROOT) for path in paths)
    report = Report(lanner_result, peer_result, args.runs, corpus)

    print(report.text())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report.markdown(), encoding="utf-8")
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
