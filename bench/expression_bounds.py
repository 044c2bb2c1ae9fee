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
import time
from collections.abc import Callable
from typing import Any

from crmflow.core.engine.bounds import TIME_LIMIT
from crmflow.core.engine.expressions import compile_expression, compile_template, make_environment
from crmflow.errors import ExpressionError

RUNAWAY_EXPRESSIONS = [
    "((9**64)**64)**64",
    "'a'*100000*100000",
    "('x'*100000)|replace('x','x'*100000)",
    "'a'|indent(10**9)",
    "[1]|batch(10**9,0)|list",
    "'{:>999999999}'.format(1)",
    "'{:>{}}'.format(1, 999999999)",
    "'%999999999d'|format(1)",
    "'a'|center(10**9)",
    "'a'.ljust(10**9)",
    "'ab'.replace('a', 'a'*99999).replace('a', 'a'*99999)",
    "(10**1000) * (10**1000) * (10**1000) * (10**1000) * (10**1000)",
]
RUNAWAY_TEMPLATES = [
    "{% for a in s %}{% for b in s %}{% for c in s %}x{% endfor %}{% endfor %}{% endfor %}",
    "{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
    "{% set a = 'x'*100000 %}{% set a = a ~ a %}{{ a }}",
    "{% for a in s %}{{ s }}{% endfor %}",
]
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
