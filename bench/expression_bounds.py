"""How fast the expression sandbox refuses runaway guards and templates, against a benign one.

    python bench/expression_bounds.py [--repeat 3]

For each runaway expression and template of tests/faults/test_expression_bounds.py
(the tests assert that each is refused; how fast is this figure: it was a "< 3 s"
assertion there that could fail under load), prints the median seconds from the
call to the refusal over --repeat runs and its ratio to the baseline: the same
sandbox evaluating a benign loop of 1,000 iterations, measured in the same process
between the runaway ones. The bounds' own time limit (TIME_LIMIT) is printed beside.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crmflow.core.engine.bounds import TIME_LIMIT
from crmflow.core.engine.expressions import compile_expression, compile_template, make_environment
from crmflow.errors import ExpressionError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.faults.test_expression_bounds import (  # noqa: E402  (the tests' runaway sources)
    RUNAWAY_EXPRESSIONS,
    RUNAWAY_TEMPLATES,
)

BENIGN = "{% for a in s %}{{ a }}{% endfor %}"


def _seconds(run: Callable[[], Any], refused: bool) -> float:
    began = time.perf_counter()
    try:
        run()
    except ExpressionError as exc:
        if not refused or "refused" not in str(exc):
            raise
    else:
        if refused:
            raise SystemExit("a runaway source was not refused")
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    env = make_environment()
    benign = compile_template(BENIGN, env)
    small = {"s": list(range(1000))}
    cases: list[tuple[str, Callable[[], Any]]] = [
        (src, lambda src=src: compile_expression(src, env)({})) for src in RUNAWAY_EXPRESSIONS
    ] + [
        (src, lambda src=src: compile_template(src, env)({"s": "x" * 100_000}))
        for src in RUNAWAY_TEMPLATES
    ]
    baselines: list[float] = []
    worst = 0.0
    for source, run in cases:
        times = []
        for _ in range(args.repeat):
            baselines.append(_seconds(lambda: benign(small), refused=False))
            times.append(_seconds(run, refused=True))
        seconds = statistics.median(times)
        worst = max(worst, seconds)
        print(json.dumps({"source": source[:60], "refused_s": round(seconds, 4),
                          "ratio": round(seconds / statistics.median(baselines), 1)}))  # fmt: skip
    baseline = statistics.median(baselines)
    print(json.dumps({"figure": "runaway_refusal", "worst_s": round(worst, 3),
                      "baseline_s": round(baseline, 5), "worst_ratio": round(worst / baseline, 1),
                      "time_limit_s": TIME_LIMIT, "was_a_test_limit_s": 3.0}))  # fmt: skip


if __name__ == "__main__":
    main()
