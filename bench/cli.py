"""CLI start-up benchmark: whole-process times against `python -c "import sqlalchemy"`.

Usage: python bench/cli.py [--runs 10] [--db URL]
Without --db it loads the demo factory into a SQLite file under /tmp once (reused after).
Prints one JSON line per command (median seconds of --runs whole processes) and its
ratio to the baseline measured in the same run; targets: --help <= 1.5x, list --json <= 3x.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "demo" / "factory.yaml"


def _median(argv: list[str], runs: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True)
        times.append(time.perf_counter() - began)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode()[-500:]}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--db", default=None, help="A database holding the demo.")
    args = parser.parse_args()
    env = {**os.environ}
    db = args.db or f"sqlite:///{Path(tempfile.gettempdir()) / 'crmflow-bench-cli.sqlite3'}"
    script = Path(sys.executable).with_name("crmflow")  # the console script users run
    crmflow = [str(script)] if script.exists() else [sys.executable, "-m", "crmflow"]
    common = ["--db", db, "--factory", str(DEMO)]
    if args.db is None and not Path(db.removeprefix("sqlite:///")).exists():
        subprocess.run([*crmflow, "demo", "--load-only", *common], env=env, check=True,
                       capture_output=True)  # fmt: skip
    baseline = _median([sys.executable, "-c", "import sqlalchemy"], args.runs, env)
    print(json.dumps({"command": 'python -c "import sqlalchemy"', "seconds": round(baseline, 4)}))
    targets = {"--help": 1.5, "list --json": 3.0}
    rows = (
        ("--help", [*crmflow, "--help"]),
        ("list --json", [*crmflow, "list", "--json", *common]),
    )
    for name, argv in rows:
        seconds = _median(argv, args.runs, env)
        ratio = seconds / baseline
        print(json.dumps({"command": f"crmflow {name}", "seconds": round(seconds, 4),
                          "ratio": round(ratio, 2), "target": targets[name],
                          "meets_target": ratio <= targets[name]}), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
