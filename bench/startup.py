"""Start-up of a small hunt (issue 21's first bar line), all ratios in one run.

    .venv/bin/python -m bench.startup [--runs 5] [--rules ../shared/corpus/detection-rules-eql]
                                      [--events examples/events]

Times `lanner hunt -r <rules> <events> -q` in a subprocess, spawn to exit, median of --runs:
the 5 example rules (warm cache); all the corpus rules with a cold cache (the cache directory
emptied before each run); the same warm; and, for reference, with LANNER_CACHE=off. The cache
lives in a temporary XDG_CACHE_HOME, so the user's own is not touched. The bar: all rules warm
at most 1.5x the 5 example rules.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BAR = 1.5
FEW = "examples/rules"
EVENTS = "examples/events"


def hunt(rules: str, events: str, env: dict[str, str]) -> float:
    command = [sys.executable, "-m", "lanner", "hunt", "-r", rules, events, "-q"]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, check=False)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n"
                         f"{done.stderr.decode(errors='replace')}")
    return took


def startup_times(rules: str, few: str, events: str, runs: int) -> dict[str, list[float]]:
    """Seconds of each hunt, `runs` of each, interleaved so that the machine's load hits all
    alike: `few` (warm cache), `rules` cold, warm and with LANNER_CACHE=off."""
    home = Path(tempfile.mkdtemp(prefix="lanner-startup-"))
    env = {**os.environ, "XDG_CACHE_HOME": str(home)}
    env.pop("LANNER_CACHE", None)
    cache = home / "lanner"

    def cold() -> float:
        shutil.rmtree(cache, ignore_errors=True)
        return hunt(rules, events, env)

    try:
        hunt(few, events, env)  # warm the 5 rules' cache and the OS's file cache
        hunt(rules, events, env)
        times: dict[str, list[float]] = {"few": [], "cold": [], "warm": [], "off": []}
        off_env = {**env, "LANNER_CACHE": "off"}
        for _ in range(runs):
            times["few"].append(hunt(few, events, env))
            times["cold"].append(cold())
            times["warm"].append(hunt(rules, events, env))
            times["off"].append(hunt(rules, events, off_env))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rules", default=str(ROOT.parent / "shared" / "corpus"
                                              / "detection-rules-eql"))
    parser.add_argument("--few", default=FEW)
    parser.add_argument("--events", default=EVENTS)
    args = parser.parse_args(argv)
    times = startup_times(args.rules, args.few, args.events, args.runs)

    median = {name: statistics.median(values) for name, values in times.items()}
    few = median["few"]
    print(f"lanner hunt -q over {args.events}, median of {args.runs} (spawn to exit)")
    print(f"  5 example rules ({args.few}), warm cache: {few:6.2f} s")
    for name, label in (("cold", "all rules, cold cache"), ("warm", "all rules, warm cache"),
                        ("off", "all rules, LANNER_CACHE=off")):
        print(f"  {label:<28} {median[name]:6.2f} s   {median[name] / few:5.2f}x")
    verdict = "PASS" if median["warm"] <= BAR * few else "FAIL"
    print(f"bar: all rules warm at most {BAR}x the 5 rules: {median['warm'] / few:.2f}x {verdict}")
    try:
        load = os.getloadavg()[0]
        print(f"load average (1 min) at the end: {load:.1f} on {os.cpu_count()} cores")
    except OSError:
        pass


if __name__ == "__main__":
    main()
