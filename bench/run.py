"""Issue #5's benchmark suite in one command: prints its figures and writes BENCHMARKS.md.

    .venv/bin/python -m bench.run [--events 1000000] [--runs 3] [--quick]
                                  [--skip floors,ingest,peer,window,growth,memory,startup,
                                          noisy,bulk]

On the corpus of bench/generate.py (made once into bench/data/, then reused), in one run:

* floors: DuckDB reading the NDJSON into a table (floor A) and orjson parsing every line on
  every core (floor B), as bench/engine.py measures them;
* Lanner, through its public surfaces only, so that work on the engine shows up here without
  changes: `lanner hunt` in a subprocess (the 5 seed rules, and every active corpus rule with
  building blocks), timed from spawn to exit, with its peak memory; ingest alone through
  `lanner.connect().store.ingest_files([path], fields=<the rules' fields>)` in a worker
  process (the columnar route of `lanner hunt`); the seed rules' alerts checked
  against the corpus manifest;
* the peer: the `eql` package's engine (in bench/.venv-eql only: it is AGPL) running the same
  rules over the first `--peer-events` events of the corpus; rules eql cannot parse, load or
  run are left out on both sides of the ratio;
* one scheduled window: `--window-events` events over 5 minutes, ingested, then one scheduled
  round of every rule (`Detector.run_many`, as `lanner serve` runs its due rules) with
  `started_at` at the window's end;
* growth: the all-rules hunt at 2x and 4x the events, and a hunt with `--few-rules` rules;
* peak memory of an all-rules hunt of `--memory-events` events (5M: the bar is 2 GB);
* start-up (issue #21, bench/startup.py): `lanner hunt -q` of the example events (39) with
  every corpus rule, rules and SQL caches warm and cold, against the 5 example rules;
* a noisy hunt (issue #21): `--noisy-events` events of the generator's noisy mode (about one
  event in seven matches some rule), all rules, against floor A of the same file; its planted
  rules' alerts checked against its manifest;
* `_bulk` (issue #21, bench/bulk.py): `--bulk-events` events shipped by the official client's
  parallel_bulk into `lanner serve --http`, against the store's file ingest of the same events.

Each measurement on the main corpus is the median of `--runs` runs (min beside it); the growth
and memory hunts run once each. Corpora made only for growth and memory are deleted afterwards
unless `--keep-corpora` (4M and 5M events take 8 and 10 GB). A measured process that passes
`--memory-cap` is stopped and reported as such, so that a hunt holding every event in memory
cannot exhaust a shared machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import orjson

import lanner
from bench import generate
from bench.bulk import BulkRuns
from bench.bulk import measure as bulk_runs
from bench.engine import floor_duckdb, floor_orjson, memory_total, read_through
from bench.parse import PEER_PYTHON, Runs, command_line, cpu_model, ensure_peer_venv, run
from bench.startup import BAR as STARTUP_BAR
from bench.startup import EVENTS as STARTUP_EVENTS
from bench.startup import FEW as STARTUP_RULES
from bench.startup import startup_times
from lanner.detection.hunt import select_rules
from lanner.engine.client import Lanner
from lanner.rules import Rule, load_rules

ROOT = Path(__file__).resolve().parent.parent
LANNER = Path(sys.executable).parent / "lanner"
PEER_HUNT_SCRIPT = ROOT / "bench" / "peers" / "eql_hunt_peer.py"
REPORT = ROOT / "BENCHMARKS.md"
INGEST_LABEL = "Lanner ingest: the fields of every rule, as `lanner hunt` reads them"
SECTIONS = ("floors", "ingest", "peer", "window", "growth", "memory", "startup", "noisy", "bulk")
WINDOW = datetime.timedelta(minutes=5)

# The bar of issue #5.
HUNT_OVER_FLOOR_A = 2.0
PEER_FACTOR = 1_000
MEMORY_BAR = 2 * 10**9  # bytes: the issue says 2 GB
WINDOW_SECONDS = 5.0
# Issue #21's bar for the noisy hunt.
NOISY_OVER_FLOOR_A = 5.0
# Time ratios may exceed the size ratios by this much and still count as linear: the machine
# is shared, and one run of each growth hunt is all the time allows.
LINEAR_SLACK = 1.10
GROWTH = (2, 4)
SAMPLE_SECONDS = 0.05  # how often the process tree's memory is sampled


# -- measuring a process -----------------------------------------------------------------------


class BenchmarkError(RuntimeError):
    """A measured command failed, so its figures would mean nothing."""


# Starts the measured command from a small interpreter (stdlib only, no site): a child's max
# RSS counts the memory of the process it was forked from until its exec, and the benchmark's
# own process holds gigabytes after floor A. Writes the command's wall time and the largest
# max RSS among the processes it waited for to the file named by its first argument.
LAUNCHER = """
import json, resource, subprocess, sys, time
report, command = sys.argv[1], sys.argv[2:]
clock = time.perf_counter()
code = subprocess.call(command)
seconds = time.perf_counter() - clock
with open(report, "w") as file:
    json.dump({"seconds": seconds, "returncode": code,
               "maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}, file)
"""


def tree_rss(pid: int, *, include_root: bool = True) -> int:
    """Resident bytes of a process and all its descendants, from /proc (0 once it is gone)."""
    page = os.sysconf("SC_PAGE_SIZE")
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            if include_root or current != pid:
                total += int(Path(f"/proc/{current}/statm").read_text().split()[1]) * page
            for task in os.listdir(f"/proc/{current}/task"):
                pending += map(int, Path(f"/proc/{current}/task/{task}/children")
                               .read_text().split())
        except (OSError, IndexError, ValueError):
            continue  # the process ended while being read
    return total


class TreeSampler(threading.Thread):
    """Samples the memory of the launcher's descendants (max RSS sees only the largest single
    process, so a hunt spread over worker processes would be under-counted), and stops the
    launcher's process group once they hold more than `cap` bytes."""

    def __init__(self, launcher: int, cap: int | None) -> None:
        super().__init__(daemon=True)
        self.launcher = launcher
        self.cap = cap
        self.peak = 0
        self.stopped = False
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(SAMPLE_SECONDS):
            self.peak = max(self.peak, tree_rss(self.launcher, include_root=False))
            if self.cap is not None and self.peak > self.cap and not self.stopped:
                self.stopped = True
                os.killpg(self.launcher, signal.SIGKILL)  # the group started for this run

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak


@dataclass(frozen=True, slots=True)
class ProcessRun:
    """One finished subprocess: wall seconds from spawn to exit, peak memory, output."""

    seconds: float
    peak_bytes: int
    returncode: int
    stdout: str
    stderr: str
    stopped: bool = False  # killed on passing the memory cap: seconds and memory so far


def run_process(command: Sequence[str | Path], memory_cap: int | None = None) -> ProcessRun:
    """Run a command to its end through LAUNCHER; its peak memory is the larger of the max RSS
    of its largest process and the sampled RSS sum of its process tree. Past `memory_cap`
    bytes the command and its children are killed."""
    with tempfile.TemporaryDirectory() as folder:
        report, out, err = (Path(folder) / name for name in ("report.json", "out", "err"))
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            clock = time.perf_counter()
            launcher = subprocess.Popen(
                [sys.executable, "-S", "-c", LAUNCHER, report, *command], stdout=stdout,
                stderr=stderr, cwd=ROOT, start_new_session=True)
            sampler = TreeSampler(launcher.pid, memory_cap)
            sampler.start()
            launcher.wait()
            sampled = sampler.stop()
        if sampler.stopped:
            return ProcessRun(time.perf_counter() - clock, sampled, launcher.returncode,
                              out.read_text(errors="replace"), err.read_text(errors="replace"),
                              stopped=True)
        if launcher.returncode != 0:
            raise BenchmarkError(f"the launcher failed: {err.read_text(errors='replace')}")
        measured = json.loads(report.read_text(encoding="utf-8"))
        return ProcessRun(measured["seconds"], max(measured["maxrss_kib"] * 1024, sampled),
                          measured["returncode"], out.read_text(errors="replace"),
                          err.read_text(errors="replace"))


def checked(result: ProcessRun, what: str, allowed: Sequence[int] = (0,)) -> ProcessRun:
    if result.stopped:
        raise BenchmarkError(f"{what} passed the memory cap ({gigabytes(result.peak_bytes)}) "
                             "and was stopped; raise --memory-cap")
    if result.returncode not in allowed:
        raise BenchmarkError(f"{what} exited with {result.returncode}:\n"
                             f"{result.stderr[-3000:]}{result.stdout[-1000:]}")
    return result


@dataclass(frozen=True, slots=True)
class Figure(Runs):
    """The runs of one measurement over `events` events: seconds, and peak bytes per run when
    a process was measured."""

    label: str
    events: int
    times: list[float]
    peaks: list[int] = field(default_factory=list)


    @property
    def rate(self) -> float:
        """Events per second at the median run."""
        return self.events / self.median

    @property
    def peak(self) -> int | None:
        return max(self.peaks) if self.peaks else None


@dataclass(frozen=True, slots=True)
class Workspace:
    """Where a run keeps its temporary files, and the memory a measured process may take
    before it is stopped: the machine is shared, and a hunt that holds every event in memory
    would exhaust it at 4M or 5M events."""

    folder: Path
    memory_cap: int


# -- Lanner: hunts, ingest, the scheduled window -----------------------------------------------


@dataclass(frozen=True, slots=True)
class Hunt:
    """The runs of one `lanner hunt`, the CLI's summary of the last, and its alerts file."""

    figure: Figure
    summary: dict[str, Any]  # empty when the hunt was stopped
    alerts: Path
    stopped: bool = False  # at the memory cap: the figure holds the time and memory so far

    @property
    def rules_run(self) -> int:
        return self.summary.get("rules", {}).get("run", 0)

    @property
    def failed(self) -> list[dict[str, Any]]:
        rules = self.summary.get("rules", {})
        return rules.get("failed", []) + rules.get("not_loaded", [])

    @property
    def phases(self) -> str:
        """The CLI's own split of its time, when it reports one."""
        seconds = self.summary.get("seconds", {})
        return ", ".join(f"{name} {value:.2f} s" for name, value in seconds.items())


def hunt(label: str, rules: Path, events_file: Path, events: int, runs: int, space: Workspace,
         building_blocks: bool = True) -> Hunt:
    """`lanner hunt` as a user runs it, `runs` times; exit status 1 (some rule failed) is a
    result to report, passing the memory cap ends the measurement, anything else is an
    error."""
    handle, name = tempfile.mkstemp(prefix="alerts-", suffix=".ndjson", dir=space.folder)
    os.close(handle)
    alerts = Path(name)
    command = [LANNER, "hunt", "--rules", rules, events_file, "--quiet", "--log-format", "json",
               "--output", alerts, *(["--building-blocks"] if building_blocks else [])]
    print(f"{label} ...", file=sys.stderr, flush=True)
    results = []
    for _ in range(runs):
        # Each run writes a new file, as a first hunt does. Over an existing one, ext4 would
        # write the whole file back when Lanner closes it (auto_da_alloc, which guards a
        # rewrite-by-truncation against a crash): 0.75 s for a noisy hunt's 1.25 GB.
        alerts.unlink(missing_ok=True)
        result = run_process(command, space.memory_cap)
        results.append(result)
        if result.stopped:
            break
        checked(result, label, allowed=(0, 1))
    stopped = results[-1].stopped
    figure = Figure(label + (" (stopped at the memory cap)" if stopped else ""), events,
                    [r.seconds for r in results], [r.peak_bytes for r in results])
    if stopped:
        print(f"  stopped at {gigabytes(results[-1].peak_bytes)}", file=sys.stderr, flush=True)
        return Hunt(figure, {}, alerts, stopped=True)
    return Hunt(figure, json.loads(results[-1].stdout.strip().splitlines()[-1]), alerts)


def worker_command(task: dict[str, Any]) -> list[str | Path]:
    return [sys.executable, "-m", "bench.run", "--worker", json.dumps(task)]


def ingest(events_file: Path, rules: Path, events: int, runs: int,
           space: Workspace) -> tuple[Figure, dict[str, Any]]:
    """Ingest alone through the API, one fresh process per run, as `lanner hunt` ingests:
    only the fields the rules read; the time is measured inside the worker, the memory over
    the whole process."""
    print("Lanner ingest ...", file=sys.stderr, flush=True)
    command = worker_command({"task": "ingest", "file": str(events_file), "rules": str(rules)})
    results = [checked(run_process(command, space.memory_cap), "ingest worker")
               for _ in range(runs)]
    reports = [json.loads(result.stdout) for result in results]
    figure = Figure(INGEST_LABEL, events,
                    [report["seconds"] for report in reports], [r.peak_bytes for r in results])
    return figure, reports[-1]


@dataclass(frozen=True, slots=True)
class WindowRuns:
    """The scheduled window: the corpus, and per run the worker's report."""

    corpus: generate.GeneratedCorpus
    reports: list[dict[str, Any]]

    def figure(self, key: str, label: str) -> Figure:
        return Figure(label, self.corpus.events, [report[key] for report in self.reports])


def scheduled_window(corpus: generate.GeneratedCorpus, rules: Path, runs: int,
                     space: Workspace) -> WindowRuns:
    print("scheduled window ...", file=sys.stderr, flush=True)
    command = worker_command({"task": "window", "file": str(corpus.path), "rules": str(rules),
                              "start": corpus.manifest["start"], "end": corpus.manifest["end"]})
    reports = [json.loads(checked(run_process(command, space.memory_cap), "window worker").stdout)
               for _ in range(runs)]
    return WindowRuns(corpus, reports)


def worker(task: dict[str, Any]) -> dict[str, Any]:
    """What a worker process measures and prints (as JSON) for the parent."""
    from lanner.detection.fields import fields_read

    loaded, _ = load_rules([task["rules"]])
    fields = fields_read(select_rules(loaded, building_blocks=True).rules)
    client = lanner.connect()
    clock = time.perf_counter()
    report = client.store.ingest_files([task["file"]], fields=fields)
    ingested = time.perf_counter() - clock
    if task["task"] == "ingest":
        return {"seconds": ingested, "events": report.events, "bad_lines": len(report.bad_lines),
                "coercion_failures": report.coercion_failures}
    return window_worker(client, task, ingested)


def window_worker(client: Lanner, task: dict[str, Any], ingested: float) -> dict[str, Any]:
    """One scheduled execution of every rule at the window's end, with an alert store as a
    detection server keeps; a rule whose look-back is shorter than the window (none among the
    prebuilt rules) is widened to cover it."""
    from lanner.detection.run import Detector, Invocation
    from lanner.detection.schedule import rule_windows
    from lanner.store.alerts import AlertStore

    start = datetime.datetime.fromisoformat(task["start"])
    end = datetime.datetime.fromisoformat(task["end"])
    minutes = -(-(end - start) // datetime.timedelta(minutes=1))
    rules, widened = [], 0
    for rule in corpus_rules(Path(task["rules"])):
        plan = rule_windows(from_=rule.from_, to=rule.to, interval=rule.interval,
                            max_signals=rule.max_signals, started_at=end)
        if plan.main.start > start or plan.main.end < end:
            rule = replace(rule, from_=f"now-{minutes}m", to="now")
            widened += 1
        rules.append(rule)
    detector = Detector(client.backend, AlertStore(client.store.con))
    clock = time.perf_counter()
    reports = detector.run_many([Invocation(rule, end) for rule in rules])
    running = time.perf_counter() - clock
    return {"ingest_seconds": ingested, "rules_seconds": running, "rules": len(rules),
            "widened": widened, "failed": sum(1 for report in reports if report.error),
            "alerts": sum(len(report.created) for report in reports)}


# -- rules and the seed check ------------------------------------------------------------------


def corpus_rules(folder: Path) -> list[Rule]:
    """The rules an all-rules hunt runs: every active EQL rule, building blocks included."""
    rules, _ = load_rules([folder])
    return select_rules(rules, building_blocks=True).rules


def rule_folder(rules: Sequence[Rule], folder: Path) -> Path:
    """A folder of links to just these rule files, for a hunt over a subset: listing them
    with --rule-id would put every left-out rule, with the whole list, in the summary."""
    folder.mkdir(parents=True)
    for number, rule in enumerate(rules):
        if rule.path is None:
            raise BenchmarkError(f"rule {rule.rule_id} was not loaded from a file")
        (folder / f"{number:04d}-{Path(rule.path).name}").symlink_to(Path(rule.path).resolve())
    return folder


def evenly_spaced(rules: Sequence[Rule], count: int) -> list[Rule]:
    """`count` rules spread over the list (sorted by path, so over platforms and tactics)."""
    ordered = sorted(rules, key=lambda rule: rule.path or "")
    if count >= len(ordered):
        return list(ordered)
    return [ordered[i * len(ordered) // count] for i in range(count)]


def alert_hits(alerts: Path, rule_ids: set[str]) -> dict[str, list[tuple[str, ...]]]:
    """The hits behind the alerts of these rules, as the manifest names them: an event alert's
    event.id, or a sequence's event.ids in order (its building blocks, by group index)."""
    hits: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    groups: dict[str, dict[str, dict[int, str]]] = defaultdict(lambda: defaultdict(dict))
    with open(alerts, "rb") as file:
        for line in file:
            alert = orjson.loads(line)
            rule_id = alert.get("kibana.alert.rule.rule_id")
            if rule_id not in rule_ids:
                continue
            event_id = alert.get("kibana.alert.original_event.id")
            group = alert.get("kibana.alert.group.id")
            if group is None:
                hits[rule_id].append((event_id,))
            elif "kibana.alert.group.index" in alert:  # a building block; the shell has none
                groups[rule_id][group][alert["kibana.alert.group.index"]] = event_id
    for rule_id, sequences in groups.items():
        hits[rule_id] += [tuple(ids[index] for index in sorted(ids))
                          for ids in sequences.values()]
    return hits


@dataclass(frozen=True, slots=True)
class SeedCheck:
    """One seed rule: planted hits against those found by the seed hunt and the all-rules hunt
    (whose corpus copy of the rule has the same rule_id)."""

    rule_id: str
    name: str
    planted: list[tuple[str, ...]]
    found: dict[str, list[tuple[str, ...]]]  # hunt label -> hits

    def verdict(self, label: str) -> str:
        return "PASS" if sorted(self.found[label]) == sorted(self.planted) else "FAIL"


def seed_checks(corpus: generate.GeneratedCorpus, hunts: dict[str, Hunt]) -> list[SeedCheck]:
    planted = corpus.manifest["rules"]
    found = {label: alert_hits(h.alerts, set(planted)) for label, h in hunts.items()}
    return [SeedCheck(rule_id, entry["name"], corpus.planted_hits(rule_id),
                      {label: hits.get(rule_id, []) for label, hits in found.items()})
            for rule_id, entry in planted.items()]


# -- the peer ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Peer:
    """eql's engine over the sample: timings, what it could not run, and Lanner's hunt with the
    same rules over the whole corpus."""

    version: str
    figure: Figure
    rules_timed: int
    failures: list[dict[str, str]]
    results: int
    lanner: Hunt

    @property
    def ratio(self) -> float:
        return self.lanner.figure.rate / self.figure.rate


def peer(corpus: generate.GeneratedCorpus, rules: list[Rule], sample_events: int, runs: int,
         space: Workspace, all_rules: Hunt) -> Peer:
    """eql's engine over the first `sample_events` events; Lanner's side is the all-rules
    hunt, or a hunt of the same corpus without the rules eql cannot run."""
    ensure_peer_venv()
    work = space.folder
    sample = work / "peer-sample.ndjson"
    with open(corpus.path, "rb") as source, open(sample, "wb") as target:
        for _, line in zip(range(sample_events), source, strict=False):
            target.write(line)
    queries = work / "peer-rules.json"
    queries.write_text(json.dumps([{"id": rule.rule_id, "query": rule.query} for rule in rules]),
                       encoding="utf-8")
    print(f"eql engine over {sample_events:,} events ...", file=sys.stderr, flush=True)
    report = json.loads(run([PEER_PYTHON, PEER_HUNT_SCRIPT, queries, sample, "--runs",
                             str(runs)]))
    figure = Figure(f"eql {report['version']} PythonEngine (peer)", report["events"],
                    report["times_s"])
    failed = {failure["id"] for failure in report["failures"]}
    if failed:
        subset = rule_folder([rule for rule in rules if rule.rule_id not in failed],
                             work / "eql-rules")
        same_rules = hunt(f"hunt with the {report['rules_timed']} rules eql runs", subset,
                          corpus.path, corpus.events, runs, space)
    else:
        same_rules = all_rules
    return Peer(report["version"], figure, report["rules_timed"], report["failures"],
                sum(report["results"].values()), same_rules)


# -- the run -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Suite:
    """Every figure of one run; a skipped section stays empty."""

    options: argparse.Namespace
    corpus: generate.GeneratedCorpus
    generated_in: float | None
    rules: int
    seed: Hunt
    all_rules: Hunt
    checks: list[SeedCheck]
    floor_a: Figure | None = None
    floor_b: Figure | None = None
    ingest: Figure | None = None
    ingest_report: dict[str, Any] | None = None
    peer: Peer | None = None
    window: WindowRuns | None = None
    growth: list[Hunt] = field(default_factory=list)  # the all-rules hunt at more events
    few_rules: Hunt | None = None
    memory: Hunt | None = None
    startup: dict[str, Figure] | None = None  # few (the 5 example rules), cold, warm, off
    noisy: NoisyRuns | None = None
    bulk: BulkRuns | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def megabytes(self) -> float:
        return self.corpus.path.stat().st_size / 1e6

    def growth_hunts(self) -> list[Hunt]:
        """Every all-rules hunt, the main corpus first."""
        return [self.all_rules, *self.growth, *([self.memory] if self.memory else [])]

    def growth_points(self) -> list[tuple[int, float]]:
        """(events, median seconds) of every all-rules hunt that finished."""
        return [(h.figure.events, h.figure.median) for h in self.growth_hunts() if not h.stopped]


def obtain(events: int, seed: int, duration: datetime.timedelta, folder: Path,
           noisy: bool = False) -> tuple[generate.GeneratedCorpus, float | None]:
    """The corpus from the cache, or generated now (then with the seconds it took)."""
    path = generate.default_path(events, seed, duration, folder, noisy=noisy)
    found = generate.cached(path, events, seed, duration, noisy)
    if found is not None:
        return found, None
    print(f"generating {path} ...", file=sys.stderr, flush=True)
    clock = time.perf_counter()
    made = generate.generate(path, events, seed, duration, noisy=noisy)
    return made, time.perf_counter() - clock


def discard(corpus: generate.GeneratedCorpus, generated_in: float | None, keep: bool) -> None:
    """Delete a corpus this run made only for one measurement (they are large)."""
    if generated_in is not None and not keep:
        corpus.path.unlink()
        corpus.manifest_path.unlink()


def measure(options: argparse.Namespace, skip: set[str], space: Workspace) -> Suite:
    seed_rules = options.shared / "rules" / "seed"
    rules = corpus_rules(options.corpus_rules)
    if not rules:
        raise BenchmarkError(f"no active EQL rules under {options.corpus_rules}")
    corpus, generated_in = obtain(options.events, options.seed, generate.DEFAULT_DURATION,
                                  options.data)
    events = corpus.events
    read_through(corpus.path)

    floors: dict[str, Figure] = {}
    problems = []
    if "floors" not in skip:
        print("floor A ...", file=sys.stderr, flush=True)
        timing, rows = floor_duckdb(corpus.path, options.runs)
        floors["a"] = Figure(timing.label, events, timing.times)
        print("floor B ...", file=sys.stderr, flush=True)
        timing, lines, _ = floor_orjson(corpus.path, options.runs)
        floors["b"] = Figure(timing.label, events, timing.times)
        problems += [f"{name} read {count:,} of {events:,} events"
                     for name, count in (("floor A", rows), ("floor B", lines)) if count != events]
    ingested, ingest_report = (None, None) if "ingest" in skip else \
        ingest(corpus.path, options.corpus_rules, events, options.runs, space)
    seed = hunt("hunt, seed rules", seed_rules, corpus.path, events, options.runs, space,
                building_blocks=False)
    all_rules = hunt(f"hunt, all {len(rules):,} rules", options.corpus_rules, corpus.path, events,
                     options.runs, space)
    suite = Suite(options, corpus, generated_in, len(rules), seed, all_rules,
                  seed_checks(corpus, {label: h for label, h in (("seed", seed),
                                                                 ("all", all_rules))
                                       if not h.stopped}),
                  floors.get("a"), floors.get("b"), ingested, ingest_report, problems=problems)

    if "peer" not in skip:
        suite.peer = peer(corpus, rules, options.peer_events, options.runs, space, all_rules)
    if "window" not in skip:
        window, made_in = obtain(options.window_events, options.seed, WINDOW, options.data)
        suite.window = scheduled_window(window, options.corpus_rules, options.runs, space)
        discard(window, made_in, keep=True)  # small: kept for the next run
    if "growth" not in skip:
        for factor in options.growth:
            bigger, made_in = obtain(events * factor, options.seed, generate.DEFAULT_DURATION,
                                     options.data)
            read_through(bigger.path)
            suite.growth.append(hunt(f"hunt, all rules, {bigger.events:,} events",
                                     options.corpus_rules, bigger.path, bigger.events, 1, space))
            discard(bigger, made_in, options.keep_corpora)
        few = evenly_spaced(rules, options.few_rules)
        folder = rule_folder(few, space.folder / "few-rules")
        suite.few_rules = hunt(f"hunt, {len(few)} rules", folder, corpus.path, events,
                               options.runs, space)
    if "memory" not in skip:
        big, made_in = obtain(options.memory_events, options.seed, generate.DEFAULT_DURATION,
                              options.data)
        read_through(big.path)
        suite.memory = hunt(f"hunt, all rules, {big.events:,} events", options.corpus_rules,
                            big.path, big.events, 1, space)
        discard(big, made_in, options.keep_corpora)
    if "startup" not in skip:
        print("start-up ...", file=sys.stderr, flush=True)
        suite.startup = startup(options.corpus_rules, options.runs)
    if "noisy" not in skip:
        suite.noisy = noisy_hunt(options, space)
    if "bulk" not in skip:
        print("_bulk ...", file=sys.stderr, flush=True)
        suite.bulk = bulk_runs(options.bulk_events, options.runs, held=0)
    suite.problems += check_problems(suite)
    return suite


@dataclass(frozen=True, slots=True)
class NoisyRuns:
    """The noisy hunt: its corpus (kept cached), floor A of it and the all-rules hunt, measured
    in turn, and its planted rules' alerts against its manifest."""

    corpus: generate.GeneratedCorpus
    floor_a: Figure
    hunt: Hunt
    checks: list[SeedCheck]

    @property
    def ratio(self) -> float:
        return self.hunt.figure.median / self.floor_a.median


def noisy_hunt(options: argparse.Namespace, space: Workspace) -> NoisyRuns:
    """Floor A and the all-rules hunt of the noisy corpus, alternating run by run so that the
    machine's load hits both alike."""
    corpus, _ = obtain(options.noisy_events, options.seed, generate.DEFAULT_DURATION,
                       options.data, noisy=True)
    read_through(corpus.path)
    floor_times: list[float] = []
    hunts: list[Hunt] = []
    label = f"noisy hunt, all rules, {corpus.events:,} events"
    for _ in range(options.runs):
        print("noisy: floor A ...", file=sys.stderr, flush=True)
        timing, rows = floor_duckdb(corpus.path, 1)
        if rows != corpus.events:
            raise BenchmarkError(f"floor A read {rows:,} of {corpus.events:,} noisy events")
        floor_times += timing.times
        if hunts:
            hunts[-1].alerts.unlink()  # a noisy hunt's alerts take about 1 GB; the last is read
        hunts.append(hunt(label, options.corpus_rules, corpus.path, corpus.events, 1, space))
        if hunts[-1].stopped:
            break
    last = hunts[-1]
    figure = replace(last.figure, times=[h.figure.times[0] for h in hunts],
                     peaks=[h.figure.peaks[0] for h in hunts])
    found = replace(last, figure=figure)
    floor = Figure(timing.label, corpus.events, floor_times)
    checks = [] if found.stopped else seed_checks(corpus, {"noisy": found})
    return NoisyRuns(corpus, floor, found, checks)


STARTUP_LABELS = {"few": "5 example rules, warm cache", "cold": "all rules, cold cache",
                  "warm": "all rules, warm cache", "off": "all rules, LANNER_CACHE=off"}


def startup(rules: Path, runs: int) -> dict[str, Figure]:
    """Issue #21's start-up hunts (bench/startup.py): each a Figure over the example events."""
    events = sum(1 for path in (ROOT / STARTUP_EVENTS).glob("*.ndjson")
                 for line in path.read_bytes().splitlines() if line.strip())
    times = startup_times(str(rules), STARTUP_RULES, STARTUP_EVENTS, runs)
    return {name: Figure(STARTUP_LABELS[name], events, values) for name, values in times.items()}


def check_problems(suite: Suite) -> list[str]:
    """What makes figures doubtful: wrong alerts, failed rules, events not stored."""
    problems = [f"{check.verdict(label)}: {check.name} in the {label} hunt: "
                f"{len(check.found[label])} hits, {len(check.planted)} planted"
                for check in suite.checks for label in check.found
                if check.verdict(label) != "PASS"]
    hunts = [suite.seed, suite.all_rules, *(h for h in (suite.few_rules,) if h)]
    if suite.peer:
        hunts.append(suite.peer.lanner)
    if suite.noisy:
        hunts.append(suite.noisy.hunt)
        problems += [f"{check.verdict('noisy')}: {check.name} in the noisy hunt: "
                     f"{len(check.found['noisy'])} hits, {len(check.planted)} planted"
                     for check in suite.noisy.checks if check.verdict("noisy") != "PASS"]
    problems += [f"{h.figure.label}: {gigabytes(h.figure.peak)}" for h in hunts if h.stopped]
    for h in [*hunts, *suite.growth, *(h for h in (suite.memory,) if h)]:
        if h.stopped:
            continue  # the bar and the growth table show it
        problems += [f"{h.figure.label}: rule {failure.get('name', failure)} failed: "
                     f"{failure.get('error', '')}" for failure in h.failed]
        stored = h.summary["inputs"]["events"]
        if stored != h.figure.events:
            problems.append(f"{h.figure.label}: {stored:,} of {h.figure.events:,} events read")
    report = suite.ingest_report
    if report and (report["events"] != suite.corpus.events or report["bad_lines"]):
        problems.append(f"ingest stored {report['events']:,} events, "
                        f"{report['bad_lines']} bad lines")
    if suite.window:
        failed = sum(report["failed"] for report in suite.window.reports)
        if failed:
            problems.append(f"scheduled window: {failed} rule executions failed")
    return problems


# -- the report --------------------------------------------------------------------------------


def gigabytes(value: int | None) -> str:
    return "" if value is None else f"{value / 1e9:.2f} GB"


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def times(ratio: float) -> str:
    """A ratio as `12.34x` or, from 100 up, `1,234x`."""
    return f"{ratio:,.0f}x" if ratio >= 100 else f"{ratio:.2f}x"


def bar_rows(suite: Suite) -> list[tuple[str, str, str]]:
    """Issue #5's bar, one (target, measured, verdict) row per line; '-' when not measured."""
    options = suite.options
    rows = []
    hunt_all = suite.all_rules.figure
    target = (f"hunting {suite.corpus.events:,} events with all {suite.rules:,} rules, ingest "
              f"included, takes at most {HUNT_OVER_FLOOR_A:g}x floor A")
    if suite.all_rules.stopped:
        rows.append((target, "stopped at the memory cap", "FAIL"))
    elif suite.floor_a:
        ratio = hunt_all.median / suite.floor_a.median
        rows.append((target, f"{times(ratio)} ({hunt_all.median:.1f} s / "
                             f"{suite.floor_a.median:.1f} s)", verdict(ratio <= HUNT_OVER_FLOOR_A)))
    else:
        rows.append((target, "not measured (--skip floors)", "-"))
    target = f"at least {PEER_FACTOR:,}x the events/s of the eql package with the same rules"
    if suite.peer and suite.peer.lanner.stopped:
        rows.append((target, "Lanner's hunt was stopped at the memory cap", "FAIL"))
    elif suite.peer:
        found = suite.peer
        rows.append((target, f"{times(found.ratio)} ({found.lanner.figure.rate:,.0f} / "
                             f"{found.figure.rate:,.0f} events/s, {found.rules_timed:,} rules)",
                     verdict(found.ratio >= PEER_FACTOR)))
    else:
        rows.append((target, "not measured (--skip peer)", "-"))
    target = (f"peak memory under {gigabytes(MEMORY_BAR)} hunting "
              f"{options.memory_events:,} events with all rules")
    if suite.memory and suite.memory.stopped:
        rows.append((target, f"over {gigabytes(options.memory_cap)}: stopped after "
                             f"{suite.memory.figure.median:.0f} s (--memory-cap)", "FAIL"))
    elif suite.memory and suite.memory.figure.peak is not None:
        peak = suite.memory.figure.peak
        rows.append((target, gigabytes(peak), verdict(peak < MEMORY_BAR)))
    else:
        rows.append((target, "not measured (--skip memory or --quick)", "-"))
    target = "hunt time grows no worse than linearly with the events"
    points = suite.growth_points()
    stopped = [h.figure.events for h in suite.growth_hunts() if h.stopped]
    if len(points) > 1:
        (base_events, base_seconds), steps = points[0], points[1:]
        ratios = [(events / base_events, seconds / base_seconds) for events, seconds in steps]
        measured = ", ".join(f"x{time_ratio:.2f} time for x{size:g} events"
                             for size, time_ratio in ratios)
        if stopped:
            measured += "; stopped at the memory cap: " + ", ".join(f"{n:,}" for n in stopped)
        rows.append((target, measured, verdict(all(t <= s * LINEAR_SLACK for s, t in ratios))))
    elif stopped:
        rows.append((target, "the larger hunts were stopped at the memory cap", "-"))
    else:
        rows.append((target, "not measured (--skip growth)", "-"))
    target = (f"one scheduled window of {options.window_events:,} events with all rules runs in "
              f"under {WINDOW_SECONDS:g} s")
    if suite.window:
        rules = suite.window.figure("rules_seconds", "rules")
        ingest_time = suite.window.figure("ingest_seconds", "ingest")
        rows.append((target, f"{rules.median:.2f} s (rule executions; their ingest took "
                             f"{ingest_time.median:.2f} s before)",
                     verdict(rules.median < WINDOW_SECONDS)))
    else:
        rows.append((target, "not measured (--skip window)", "-"))
    target = (f"all rules over the {STARTUP_EVENTS} (under 100 events) take at most "
              f"{STARTUP_BAR:g}x the 5 example rules, caches warm")
    if suite.startup:
        few, warm, cold = (suite.startup[name].median for name in ("few", "warm", "cold"))
        rows.append((target, f"{times(warm / few)} warm, {times(cold / few)} cold "
                             f"({warm:.2f} s, {cold:.2f} s / {few:.2f} s)",
                     verdict(warm <= STARTUP_BAR * few)))
    else:
        rows.append((target, "not measured (--skip startup)", "-"))
    target = (f"a noisy hunt ({options.noisy_events:,} events, about one in seven matching) "
              f"with all rules takes at most {NOISY_OVER_FLOOR_A:g}x floor A of its file")
    if suite.noisy and suite.noisy.hunt.stopped:
        rows.append((target, "stopped at the memory cap", "FAIL"))
    elif suite.noisy:
        noisy = suite.noisy
        rows.append((target, f"{times(noisy.ratio)} ({noisy.hunt.figure.median:.1f} s / "
                             f"{noisy.floor_a.median:.1f} s, "
                             f"{noisy.hunt.summary['alerts']['total']:,} alerts)",
                     verdict(noisy.ratio <= NOISY_OVER_FLOOR_A)))
    else:
        rows.append((target, "not measured (--skip noisy)", "-"))
    return rows


def figure_row(figure: Figure, megabytes: float) -> str:
    return (f"| {figure.label} | {figure.median:.2f} | {figure.best:.2f} | {figure.rate:,.0f} | "
            f"{megabytes / figure.median:,.0f} | {gigabytes(figure.peak)} |")


def git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True)
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def header(suite: Suite) -> list[str]:
    options, corpus, manifest = suite.options, suite.corpus, suite.corpus.manifest
    made = (f"generated in {suite.generated_in:.1f} s" if suite.generated_in is not None
            else "from the cache")
    peer_version = f", eql {suite.peer.version} (bench/.venv-eql)" if suite.peer else ""
    lines = [
        "# Benchmarks",
        "",
        "Issue #5's suite, written by one command (`bench/README.md` says what each figure "
        "times). The machine is shared with other work: read the ratios, measured in the same "
        "run, more than the seconds.",
        "",
        f"- command: `{command_line()}`",
        f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='minutes')}",
        f"- machine: {platform.platform()}, {cpu_model()}, {os.cpu_count()} cores, "
        f"{memory_total()} RAM",
        f"- versions: Python {platform.python_version()}, DuckDB {duckdb.__version__}, orjson "
        f"{orjson.__version__}, lanner {lanner.__version__} (commit {git_commit()})"
        f"{peer_version}",
        f"- corpus: `{os.path.relpath(corpus.path, ROOT)}`, {corpus.events:,} events, "
        f"{suite.megabytes:,.0f} MB of NDJSON ({suite.megabytes * 1e6 / corpus.events:,.0f} "
        f"bytes/event), seed {manifest['seed']}, {manifest['duration']} from "
        f"{manifest['start']}; {made}",
        f"- rules: all = the {suite.rules:,} active EQL rules of "
        f"`{os.path.relpath(options.corpus_rules, ROOT)}`, building blocks included; seed = "
        f"the {suite.seed.rules_run} rules of `{os.path.relpath(options.shared, ROOT)}"
        "/rules/seed`",
        f"- {options.runs} timed run(s) of each measurement on this corpus (median, and min); "
        "the growth and memory hunts run once; every corpus is read once beforehand, so no "
        "measurement pays for the disk",
    ]
    if corpus.events != generate.DEFAULT_EVENTS:
        lines.append(f"- a development-size run: the bar is set for "
                     f"{generate.DEFAULT_EVENTS:,} events, this run used {corpus.events:,}")
    return [*lines, ""]


def hunt_section(suite: Suite) -> list[str]:
    lines = [
        f"## Hunt and ingest, {suite.corpus.events:,} events",
        "",
        "| measurement | median s | min s | events/s | MB/s | peak memory |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    figures = [f for f in (suite.floor_a, suite.floor_b, suite.ingest) if f]
    figures += [suite.seed.figure, suite.all_rules.figure]
    lines += [figure_row(figure, suite.megabytes) for figure in figures]
    lines += [
        "",
        "- floor A: a fresh in-memory DuckDB running `CREATE TEMP TABLE t AS SELECT * FROM "
        "read_ndjson_auto(path)`; floor B: `orjson.loads` of every line, one process per core "
        "(pool started beforehand, one untimed warm-up)",
        "- ingest: `lanner.connect()` then `store.ingest_files([path], fields=<every rule's "
        "fields>)` (the columnar route `lanner hunt` takes) in a fresh worker process per "
        "run, timed inside it; peak memory of the whole worker",
        "- hunts: `lanner hunt --rules <rules> <corpus> --quiet --log-format json --output "
        "alerts.ndjson` (`--building-blocks` for all rules) in a subprocess, timed from spawn "
        "to exit; peak memory is the larger of its largest process's max RSS and the RSS sum of "
        f"its process tree sampled every {SAMPLE_SECONDS * 1000:.0f} ms; a process past "
        f"{gigabytes(suite.options.memory_cap)} (`--memory-cap`) is stopped",
    ]
    for h in (suite.seed, suite.all_rules):
        if h.phases:
            lines.append(f"- {h.figure.label}: {h.rules_run:,} rules, "
                         f"{h.summary['alerts']['total']:,} alerts; the CLI's own account of "
                         f"its last run: {h.phases}")
    base = [(name, figure) for name, figure in (("floor A", suite.floor_a),
                                                ("floor B", suite.floor_b)) if figure]
    measured = [(label, figure) for label, figure in (
        ("hunt, all rules", suite.all_rules.figure), ("hunt, seed rules", suite.seed.figure),
        ("ingest", suite.ingest)) if figure]
    lines += [f"- {label} / {name}: **{times(figure.median / floor.median)}**"
              for label, figure in measured for name, floor in base]
    lines += [
        "",
        "Seed rules: the hits behind their alerts (event ids; a sequence's in order) against "
        "the events planted for them in the corpus.",
        "",
        "| rule | planted | seed hunt | all-rules hunt |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {check.name} | {len(check.planted)} | "
              + " | ".join(f"{len(check.found[label])} {check.verdict(label)}"
                           if label in check.found else "stopped" for label in ("seed", "all"))
              + " |" for check in suite.checks]
    lines.append("")
    return lines


def peer_section(found: Peer, runs: int, floor_a: Figure | None) -> list[str]:
    stages = Counter(failure["stage"] for failure in found.failures)
    reasons = Counter(failure["error"] for failure in found.failures).most_common(5)
    left_out = ", ".join(f"{count} at {stage}" for stage, count in sorted(stages.items()))
    lines = [
        "## Against the eql package",
        "",
        "| engine | events | rules | median s | min s | events/s |",
        "|---|---:|---:|---:|---:|---:|",
        f"| {found.figure.label} | {found.figure.events:,} | {found.rules_timed:,} | "
        f"{found.figure.median:.2f} | {found.figure.best:.2f} | {found.figure.rate:,.1f} |",
        f"| {found.lanner.figure.label} | {found.lanner.figure.events:,} | "
        f"{found.lanner.rules_run:,} | {found.lanner.figure.median:.2f} | "
        f"{found.lanner.figure.best:.2f} | {found.lanner.figure.rate:,.0f} |",
        "",
        f"- Lanner / eql, events per second: **{times(found.ratio)}**",
        *([f"- floor A / eql, events per second: {times(floor_a.rate / found.figure.rate)}: "
           "what an engine that only read the NDJSON into DuckDB, and ran no rule, would "
           "reach; the most any hunt that reads its input can reach on this machine"]
          if floor_a else []),
        f"- eql's sample: the first {found.figure.events:,} events of the corpus, turned into "
        "eql events (type = first `event.category`, time = `@timestamp` in ms) before timing; "
        f"all rules loaded into one `PythonEngine`, the sample streamed through it {runs} "
        f"time(s); its rules returned {found.results:,} results in the last run. Lanner's "
        "figure is a whole hunt (process start, rule loading, ingest, alerts written) over "
        "the whole corpus.",
        f"- rules eql cannot parse, load or run alone over the sample, left out on both sides: "
        f"{len(found.failures)} ({left_out or 'none'})",
    ]
    lines += [f"  - {count} x {reason}" for reason, count in reasons]
    lines.append("")
    return lines


def window_section(window: WindowRuns) -> list[str]:
    corpus, last = window.corpus, window.reports[-1]
    ingest_time = window.figure("ingest_seconds", INGEST_LABEL)
    rules = window.figure("rules_seconds", f"one scheduled execution of {last['rules']:,} rules")
    lines = [
        "## One scheduled window",
        "",
        f"`{os.path.relpath(corpus.path, ROOT)}`: {corpus.events:,} events over "
        f"{corpus.manifest['duration']} ({corpus.manifest['start']} to {corpus.manifest['end']}), "
        "generated like the main corpus. Each run is a fresh worker process: it ingests the "
        "file, then, timed on its own, runs one round of every rule as `lanner serve` does "
        "(`Detector(backend, AlertStore(con)).run_many(...)`, `started_at=<window end>`), "
        "each rule with its own `from`/`to`/"
        "`interval`/`max_signals` (no previous run, so no catch-up windows); alerts are "
        "de-duplicated and stored as a detection server would. "
        f"{last['widened']} rule(s) looked back less than the window and were widened to it.",
        "",
        "| measurement | median s | min s | events/s |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {f.label} | {f.median:.2f} | {f.best:.2f} | {f.rate:,.0f} |"
              for f in (ingest_time, rules)]
    lines += ["", f"- alerts created in the last run: {last['alerts']:,}; rule executions that "
              f"failed: {last['failed']}", ""]
    return lines


def growth_section(suite: Suite) -> list[str]:
    base = suite.all_rules.figure
    lines = [
        "## Growth",
        "",
        "| events | rules | wall s | events/s | time ratio | events ratio | peak memory | "
        "the CLI's split |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for h in suite.growth_hunts():
        figure = h.figure
        if h.stopped:
            lines.append(f"| {figure.events:,} | {suite.rules:,} | stopped after "
                         f"{figure.median:.0f} s | | | {figure.events / base.events:g} | over "
                         f"{gigabytes(suite.options.memory_cap)} | |")
            continue
        lines.append(f"| {figure.events:,} | {suite.rules:,} | {figure.median:.2f} | "
                     f"{figure.rate:,.0f} | {figure.median / base.median:.2f} | "
                     f"{figure.events / base.events:g} | {gigabytes(figure.peak)} | "
                     f"{h.phases} |")
    if suite.few_rules and not (suite.few_rules.stopped or suite.all_rules.stopped):
        few, every = suite.few_rules, suite.all_rules
        lines += [
            "",
            "| rules | events | wall s | time ratio | rules ratio | the CLI's split |",
            "|---:|---:|---:|---:|---:|---|",
            f"| {few.rules_run:,} | {few.figure.events:,} | {few.figure.median:.2f} | 1 | 1 | "
            f"{few.phases} |",
            f"| {every.rules_run:,} | {every.figure.events:,} | {every.figure.median:.2f} | "
            f"{every.figure.median / few.figure.median:.2f} | "
            f"{every.rules_run / max(few.rules_run, 1):.2f} | {every.phases} |",
            "",
            f"The {few.rules_run} rules are spread evenly over the all-rules list sorted by path "
            "(so over platforms and tactics); the first row of each table is the median of the "
            "main measurements, the larger corpora are hunted once.",
        ]
    lines.append("")
    return lines


def startup_section(figures: dict[str, Figure], rules: Path) -> list[str]:
    few = figures["few"].median
    lines = [
        "## Start-up of a small hunt",
        "",
        f"`lanner hunt -q -r <rules> {STARTUP_EVENTS}` ({figures['few'].events} events), spawn "
        f"to exit, as `python -m bench.startup` times it: the 5 rules of {STARTUP_RULES} against "
        f"every rule of {rules}, with the rules and compiled-SQL caches warm, emptied before "
        "each run (cold), and off; interleaved runs.",
        "",
        "| hunt | median s | min s | x the 5 rules |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {figure.label} | {figure.median:.2f} | {figure.best:.2f} | "
              f"{figure.median / few:.2f} |" for figure in figures.values()]
    lines.append("")
    return lines


def noisy_section(noisy: NoisyRuns) -> list[str]:
    corpus, found = noisy.corpus, noisy.hunt
    planted = corpus.manifest["rules"]
    hits = sum(len(entry["hits"]) for entry in planted.values())
    lines = [
        f"## A noisy hunt, {corpus.events:,} events",
        "",
        f"`{os.path.relpath(corpus.path, ROOT)}` (`bench/generate.py --noisy`): the same "
        f"background, with {corpus.manifest['planted_events']:,} planted events making "
        f"{hits:,} hits of {len(planted)} rules. Floor A of this file and the all-rules hunt "
        "(as above) run in turn, run by run.",
        "",
        "| measurement | median s | min s | events/s | peak memory |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {figure.label} | {figure.median:.2f} | {figure.best:.2f} | "
              f"{figure.rate:,.0f} | {gigabytes(figure.peak)} |"
              for figure in (noisy.floor_a, found.figure)]
    lines.append("")
    if not found.stopped:
        lines += [f"- noisy hunt / floor A: **{times(noisy.ratio)}**; "
                  f"{found.summary['alerts']['total']:,} alerts; the CLI's own account of its "
                  f"last run: {found.phases}",
                  "- planted rules: " + ", ".join(
                      f"{check.name} {len(check.found['noisy']):,}/{len(check.planted):,} "
                      f"{check.verdict('noisy')}" for check in noisy.checks)]
    lines.append("")
    return lines


def bulk_section(bulk: BulkRuns) -> list[str]:
    file_ingest = Figure("the store's file ingest (`ingest_files`, in-process)", bulk.count,
                         bulk.file_times)
    shipped = Figure("`_bulk`: parallel_bulk (2 threads, 5,000 a request) into `lanner serve "
                     "--http`", bulk.count, bulk.bulk_times)
    lines = [
        f"## `_bulk` ingest, {bulk.count:,} events",
        "",
        "`bench/bulk.py`'s measurement: the same small process documents written to an NDJSON "
        "file and ingested by the store, and shipped by the official `elasticsearch` client "
        "into a fresh server; interleaved runs.",
        "",
        "| measurement | median s | min s | events/s |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {figure.label} | {figure.median:.2f} | {figure.best:.2f} | "
              f"{figure.rate:,.0f} |" for figure in (file_ingest, shipped)]
    ratio = shipped.median / file_ingest.median
    lines += ["", f"- `_bulk` / file ingest, time: **{times(ratio)}**", ""]
    return lines


def render(suite: Suite) -> str:
    lines = header(suite)
    lines += ["## The bar", "", "| bar | measured | verdict |", "|---|---|---|"]
    lines += [f"| {target} | {measured} | {result} |" for target, measured, result in
              bar_rows(suite)]
    lines.append("")
    lines += hunt_section(suite)
    if suite.peer:
        lines += peer_section(suite.peer, suite.options.runs, suite.floor_a)
    if suite.window:
        lines += window_section(suite.window)
    if len(suite.growth_hunts()) > 1 or suite.few_rules:
        lines += growth_section(suite)
    if suite.startup:
        lines += startup_section(suite.startup, suite.options.corpus_rules)
    if suite.noisy:
        lines += noisy_section(suite.noisy)
    if suite.bulk:
        lines += bulk_section(suite.bulk)
    lines += SPARK_SECTION
    lines += ["## Checks", ""]
    lines += [f"- {problem}" for problem in suite.problems] or ["- all checks passed"]
    return "\n".join(lines) + "\n"


# Spark is measured by its own script (a JVM per engine and master); this says where.
SPARK_SECTION = [
    "## On Apache Spark",
    "",
    "`python -m bench.spark` times the same hunt on DuckDB and on Spark `local[1]` and "
    "`local[2]`, and `python -m bench.spark --compare` checks that all 1,024 rules give "
    "identical alert ids on both engines; its figures are in `bench/results/spark.md`. How the "
    "Spark backend spreads over a cluster (what is shuffled, by which key, and the memory each "
    "executor needs per join key) is in `docs/spark.md`; in short:",
    "",
    "- stage filters are narrow: each executor scans its Parquet splits (only the columns a "
    "query reads) and shuffles nothing; an event query sends the driver at most 10,001 `_doc` "
    "numbers per executor (a top-k per partition), a sequence's pre-check one row per "
    "partition;",
    "- sequences and samples shuffle one record per candidate and join-key tuple, "
    "`(key tuple, (stage, _doc, timestamp, tiebreaker))`, hash-partitioned by the join-key "
    "tuple (`by` fields and stage keys), so a `maxspan` window never meets a partition "
    "boundary; events without a key are dropped before the shuffle, multi-valued keys fan out;",
    "- an executor's memory is the candidates of the keys in its partition while the shared "
    "matcher runs (about 150 bytes of Python per candidate and key, plus its key values): the "
    "bound is the largest single join key, since all its candidates meet in one Python worker; "
    "the driver holds at most `size` matches per partition and the documents it returns.",
    "",
]


# -- the command -------------------------------------------------------------------------------


def parse_options(argv: list[str] | None) -> tuple[argparse.Namespace, set[str]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, help="main corpus size (default 1,000,000; "
                        "2,000 with --quick)")
    parser.add_argument("--runs", type=int, help="timed runs per measurement (default 3; 1 "
                        "with --quick)")
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    parser.add_argument("--quick", action="store_true", help="small sizes, one run, growth to "
                        "2x only, no memory hunt: for a test")
    parser.add_argument("--skip", default="", help="comma-separated sections to leave out: "
                        + ", ".join(SECTIONS))
    parser.add_argument("--peer-events", type=int, help="events eql runs over (default 3,000; "
                        "300 with --quick)")
    parser.add_argument("--window-events", type=int, help="events of the 5-minute window "
                        "(default 100,000; 2,000 with --quick)")
    parser.add_argument("--noisy-events", type=int, help="events of the noisy hunt (default "
                        "300,000; 2,000 with --quick)")
    parser.add_argument("--bulk-events", type=int, help="events shipped by `_bulk` (default "
                        "100,000; 2,000 with --quick)")
    parser.add_argument("--memory-events", type=int, default=5_000_000,
                        help="events of the memory hunt (default 5,000,000)")
    parser.add_argument("--few-rules", type=int, default=100,
                        help="rules of the smaller hunt that growth compares with (default 100)")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared",
                        help="the shared/ folder beside the project (default ../shared)")
    parser.add_argument("--corpus-rules", type=Path, help="the all-rules folder (default "
                        "<shared>/corpus/detection-rules-eql)")
    parser.add_argument("--data", type=Path, default=generate.DATA,
                        help="where corpora are generated and cached (default bench/data)")
    parser.add_argument("--output", type=Path, default=REPORT,
                        help="the report to write (default BENCHMARKS.md)")
    parser.add_argument("--memory-cap", type=float, default=8.0,
                        help="GB a measured process may take before it is stopped (default 8; "
                        "the machine is shared)")
    parser.add_argument("--keep-corpora", action="store_true",
                        help="keep the corpora made for growth and memory")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    quick = options.quick
    for name, full, small in (("events", generate.DEFAULT_EVENTS, 2_000), ("runs", 3, 1),
                              ("peer_events", 3_000, 300), ("window_events", 100_000, 2_000),
                              ("noisy_events", 300_000, 2_000), ("bulk_events", 100_000, 2_000)):
        if getattr(options, name) is None:
            setattr(options, name, small if quick else full)
    options.growth = GROWTH[:1] if quick else GROWTH
    options.memory_cap = int(options.memory_cap * 1e9)
    options.corpus_rules = options.corpus_rules or (
        options.shared / "corpus" / "detection-rules-eql")
    skip = {name.strip() for name in options.skip.split(",") if name.strip()}
    if quick:
        skip.add("memory")
    if skip - set(SECTIONS):
        parser.error(f"--skip: unknown {', '.join(sorted(skip - set(SECTIONS)))}; "
                     f"choose from {', '.join(SECTIONS)}")
    if options.runs < 1 or options.few_rules < 1:
        parser.error("--runs and --few-rules must be at least 1")
    return options, skip


def main(argv: list[str] | None = None) -> int:
    options, skip = parse_options(argv)
    if options.worker:
        print(json.dumps(worker(json.loads(options.worker))))
        return 0
    try:
        with tempfile.TemporaryDirectory(prefix="lanner-bench-") as folder:
            suite = measure(options, skip, Workspace(Path(folder), options.memory_cap))
    except (BenchmarkError, ValueError) as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 2
    report = render(suite)
    print(report)
    options.output.write_text(report, encoding="utf-8")
    print(f"written to {options.output}", file=sys.stderr)
    return 1 if suite.problems else 0


if __name__ == "__main__":
    sys.exit(main())
