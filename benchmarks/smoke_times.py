"""How long each paper's smoke profile takes through ``serlib reproduce``, measured on this machine.

    .venv/bin/python benchmarks/smoke_times.py                    # every reproduced paper and study
    .venv/bin/python benchmarks/smoke_times.py rnn crnn --output /tmp/smoke.md

Each smoke run goes twice into a temporary cache and results folder: cold (features extracted,
every training run) and warm (everything read back). The budget is 90 s per paper on 2 cores
(cold); tests do not assert wall-clock times, this benchmark reports them. Writes a Markdown
table (default ``benchmarks/smoke.md``) headed with the machine, the date and the commit.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
BUDGET_S = 90.0


def timed_smoke(name: str, cache: Path, results: Path) -> tuple[float, bool]:
    """(seconds, succeeded) of ``serlib reproduce NAME --profile smoke --no-book`` in a fresh process."""
    environment = {**os.environ, "SERLIB_CACHE": str(cache), "SERLIB_RESULTS": str(results)}
    started = time.time()
    done = subprocess.run([sys.executable, "-m", "serlib.cli", "reproduce", name, "--profile", "smoke", "--no-book"],
                          env=environment, cwd=PROJECT, capture_output=True, text=True)
    return time.time() - started, done.returncode == 0


def main() -> None:
    from serlib.papers import PAPERS, STUDIES

    every = [p.name for p in PAPERS if p.reproduced] + [s.name for s in STUDIES]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=every, help=f"papers or studies (default: {every})")
    parser.add_argument("--output", default=str(PROJECT / "benchmarks" / "smoke.md"))
    args = parser.parse_args()
    rows = []
    for name in args.names:
        with tempfile.TemporaryDirectory() as folder:
            cold, ok_cold = timed_smoke(name, Path(folder) / "cache", Path(folder) / "results")
            warm, ok_warm = timed_smoke(name, Path(folder) / "cache", Path(folder) / "results")
        rows.append(f"| {name} | {cold:.0f} | {warm:.0f} | {'yes' if cold <= BUDGET_S else '**no**'} | "
                    f"{'ok' if ok_cold and ok_warm else '**failed**'} |")
        print(rows[-1], flush=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT, capture_output=True, text=True).stdout.strip()
    header = (f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} at commit `{commit}` on {os.cpu_count()} CPU "
              f"cores ({platform.processor() or platform.machine()}), by `benchmarks/smoke_times.py`.\n\n"
              f"| paper | cold s (empty cache) | warm s (all stored) | within {BUDGET_S:.0f} s | run |\n|---|---|---|---|---|")
    Path(args.output).write_text(header + "\n" + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
