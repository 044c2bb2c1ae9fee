"""Fault probe (issue 10): hostile workflow files, expressions, CSV files, killed imports.

    python bench/faults.py [--seed 10] [--files 2200] [--expressions 135] [--csv 340]
                           [--kills 3] [--orders 3000]

Prints one JSON line per kind: tried, ours (a located crmflow error or a clean
refusal), ok (accepted), tracebacks (any other exception), hangs (over 10 s) and,
for the killed imports, lost (orders without exactly one delivered order.created).
Not a test: the tests (tests/faults/) hold the fixed-seed, bounded versions.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
import yaml

from crmflow import Engine
from crmflow.core.domain.imports import import_csv
from crmflow.core.engine.expressions import (
    MissingField,
    compile_expression,
    compile_template,
    make_environment,
)
from crmflow.core.engine.workflowfiles import validate_paths
from crmflow.core.factory import FactoryConfig
from crmflow.errors import CrmflowError

HANG = 10  # seconds


class Hang(Exception):
    pass


def _alarm(_signum: int, _frame: object) -> None:
    raise Hang


def classify(action: Callable[[], str], counts: Counter[str], samples: list[str]) -> None:
    """Run ``action``; it returns "ok" or "ours"; anything raised else is a traceback."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG)
    try:
        counts[action()] += 1
    except Hang:
        counts["hangs"] += 1
    except (CrmflowError, MissingField):
        counts["ours"] += 1
    except Exception:
        counts["tracebacks"] += 1
        if len(samples) < 5:
            samples.append(traceback.format_exc(limit=3))
    finally:
        signal.alarm(0)
    counts["tried"] += 1


VALID = yaml.safe_dump(
    {
        "workflow": "probe", "version": 1, "initial": "open",
        "states": {"open": {"deadline": "1h", "on_timeout": "close"}, "done": {"final": True}},
        "transitions": [{"trigger": "close", "from": "open", "to": "done",
                         "when": "data.q > 1",
                         "do": [{"action": "notify", "with": {"to": "x", "text": "hi"}}]}],
    }
)  # fmt: skip
PIECES = [
    "&a [*a]", "*nope", "\x07", "\x00", "\t", "[" * 500, "{" * 500, "'", '"', "? [a]: b",
    "<<: *a", "%YAML 9.9\n", "---\n---\n", "9" * 4400, "99999999999999w", "600000w",
    "((((((((((((((((((((1))))))))))))))))))))" * 10, "{{ f() }}", "{% include 'x' %}",
    "\n  - {trigger: x, from: '*', to: done}", "\ufeff", "é", "\udcff", "0x" + "f" * 4000,
]  # fmt: skip


def bomb(levels: int, width: int) -> str:
    text = "a0: &a0 [" + ", ".join(['"x"'] * width) + "]\n"
    for i in range(1, levels):
        text += f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]\n"
    return text


def workflow_file(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.05:
        return (VALID + "x:\n" + "".join("  " + line + "\n" for line in
                bomb(rng.randint(3, 10), rng.randint(3, 10)).splitlines())).encode()
    text = VALID
    for _ in range(rng.randint(1, 4)):
        at = rng.randint(0, len(text))
        text = text[:at] + rng.choice(PIECES) + text[at:]
    data = text.encode("utf-8", "surrogateescape")
    if roll > 0.9:
        data = data.decode("utf-8", "replace").encode(rng.choice(["latin-1", "utf-16", "gbk"]),
                                                      "replace")  # fmt: skip
    elif roll > 0.8:
        at = rng.randint(0, len(data))
        data = data[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 8))) + data[at:]
    return data


EXPRESSIONS = [
    "((9**64)**64)**64", "'a'*100000*100000", "('x'*100000)|replace('x','x'*100000)",
    "'a'|indent(10**9)", "[1]|batch(10**9,0)|list", "'{:>999999999}'.format(1)",
    "'a'|center(10**9)", "'%999999999d'|format(1)", "'a'.ljust(10**9)",
    "().__class__", "data.__dict__", "cycler.__init__", "lipsum()", "range(10**9)|list",
    "(" * 300 + "1" + ")" * 300, "1/0", "data.missing.deeper", "'a' + 1",
    "'{0.__class__}'.format(1)", "data|attr('__class__')", "'x'|wordwrap(10**9)",
    "'x'.zfill(10**9)", "'x'.expandtabs(10**9)", "'\t'*1000|join('x'*1000)",
    "2**100000", "10**4000 * 10**4000", "'ab'|truncate(10**9)", "[0]*10**9",
]  # fmt: skip
TEMPLATES = [
    "{% for a in s %}{% for b in s %}{% for c in s %}x{% endfor %}{% endfor %}{% endfor %}",
    "{% set a = 'x'*100000 %}{% set a = a ~ a %}{% set a = a ~ a %}{{ a }}",
    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "{% include 'x' %}",
    "{% extends 'x' %}", "{{ 1/0 }} x", "{{ data.q * 'x' }} y", "{% for a in s %}{{ s }}"
    "{% endfor %}", "{{ data.missing + 1 }} z",
]  # fmt: skip


def expression(rng: random.Random, i: int) -> str:
    if i < len(EXPRESSIONS):
        return EXPRESSIONS[i]
    parts = [rng.choice(EXPRESSIONS) for _ in range(2)]
    return f"({parts[0]}) {rng.choice(['+', '*', '~', 'or', '**'])} ({parts[1]})"


def csv_input(rng: random.Random) -> bytes:
    head = "order_id,customer_id,order_date,sku,quantity,unit_price,requested_date\n"
    cells = ["O1", "C1", "M1", "2026-01-05", "2026-02-01", "5", "1_000", "١٢", "0001-01-01",
             "9999-12-31", "=1+2", "x" * 200_000, "\x00", '"', "a\nb", "", "-5", "nan",
             "名字", "X" * 201]  # fmt: skip
    rows = []
    for n in range(rng.randint(1, 6)):
        row = [f"O{n}", "C1", "2026-01-05", "M1", "5", "3", "2026-02-01"]
        for _ in range(rng.randint(0, 3)):
            row[rng.randrange(len(row))] = rng.choice(cells)
        if rng.random() < 0.1:
            row.append("extra")
        rows.append(",".join(row))
    text = head + "\n".join(rows) + "\n"
    roll = rng.random()
    if roll < 0.15:
        return text.encode("gbk", "replace")
    if roll < 0.25:
        return text.encode("utf-16")
    if roll < 0.3:
        return b"PK\x03\x04" + os.urandom(64)
    if roll < 0.35:
        return os.urandom(rng.randint(1, 400))
    if roll < 0.4:
        return (head.strip() + ",quantity\n").encode()
    return text.encode("utf-8", "surrogateescape")


def probe_files(rng: random.Random, n: int, tmp: Path) -> dict[str, object]:
    env, counts, samples = make_environment(), Counter[str](), []
    path = tmp / "w.yaml"

    def one() -> str:
        definitions, problems = validate_paths([path], env, {"notify": None})
        return "ours" if problems and any(p.severity == "error" for p in problems) else "ok"

    for _ in range(n):
        path.write_bytes(workflow_file(rng))
        classify(one, counts, samples)
    return {"kind": "workflow files", **counts, "samples": samples}


def probe_expressions(rng: random.Random, n: int) -> dict[str, object]:
    env, counts, samples = make_environment(), Counter[str](), []
    ctx = {"data": {"q": 5}, "s": "x" * 100_000}
    for i in range(n):
        source = expression(rng, i)
        classify(lambda s=source: (compile_expression(s, env)(ctx), "ok")[1], counts, samples)
    for source in TEMPLATES:
        classify(lambda s=source: (compile_template(s, env)(ctx), "ok")[1], counts, samples)
    return {"kind": "expressions and templates", **counts, "samples": samples}


def _engine(tmp: Path, name: str) -> Engine:
    flows = tmp / "flows"
    flows.mkdir(exist_ok=True)
    engine = Engine.open(f"sqlite:///{tmp / name}", workflows=flows,
                         factory=FactoryConfig(name="probe", plugins={"forecast": False}),
                         load_entry_points=False)  # fmt: skip
    (tmp / "c.csv").write_text("customer_id,name,industry,size,region\nC1,A,b,c,d\n")
    (tmp / "p.csv").write_text("sku,name,family,kind,unit_cost\nM1,G,g,made,1\n")
    import_csv(engine, "customers", tmp / "c.csv", actor="probe")
    import_csv(engine, "products", tmp / "p.csv", actor="probe")
    return engine


def probe_csv(rng: random.Random, n: int, tmp: Path) -> dict[str, object]:
    engine = _engine(tmp, "csv.sqlite3")
    counts, samples = Counter[str](), []
    path = tmp / "o.csv"

    def one() -> str:
        report = import_csv(engine, "orders", path, actor="probe",
                            encoding="gb18030" if rng.random() < 0.1 else None)  # fmt: skip
        return "ours" if report.rejected else "ok"

    for _ in range(n):
        path.write_bytes(csv_input(rng))
        classify(one, counts, samples)
    engine.close()
    return {"kind": "CSV inputs", **counts, "samples": samples}


def probe_kills(rng: random.Random, kills: int, orders: int, tmp: Path) -> dict[str, object]:
    flows = tmp / "kflows"
    flows.mkdir()
    (flows / "t.yaml").write_text(
        "workflow: t\nversion: 1\nentity: order\ninitial: open\nstates:\n  open: {}\n"
        "  done: {final: true}\ntransitions:\n  - {trigger: close, from: open, to: done}\n"
        "start_on:\n  - event: order.created\n    unique: \"{{ event.order_id }}\"\n"
    )
    url = f"sqlite:///{tmp / 'kill.sqlite3'}"
    script = str(Path(sys.executable).with_name("crmflow"))
    base = [script, "--db", url, "--workflows", str(flows), "import"]
    (tmp / "kc.csv").write_text("customer_id,name,industry,size,region\nC1,A,b,c,d\n")
    (tmp / "kp.csv").write_text("sku,name,family,kind,unit_cost\nM1,G,g,made,1\n")
    subprocess.run([*base, "customers", str(tmp / "kc.csv")], check=True, capture_output=True)
    subprocess.run([*base, "products", str(tmp / "kp.csv")], check=True, capture_output=True)
    path = tmp / "ko.csv"
    path.write_text("order_id,customer_id,order_date,sku,quantity,unit_price,requested_date\n"
                    + "".join(f"O{i},C1,2026-01-05,M1,1,1,2026-02-01\n" for i in range(orders)))
    killed = 0
    for _ in range(kills):
        proc = subprocess.Popen([*base, "orders", str(path)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            proc.wait(timeout=rng.uniform(2.0, 12.0))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            killed += 1
    final = subprocess.run([*base, "orders", str(path)], capture_output=True, text=True)
    db = sa.create_engine(url)
    with db.connect() as conn:
        once = conn.execute(sa.text(
            "select count(*) from (select key from events where name = 'order.created' "
            "group by key having count(*) = 1) as k")).scalar_one()  # fmt: skip
    db.dispose()
    return {"kind": "killed imports", "tried": kills, "killed": killed, "orders": orders,
            "final_exit": final.returncode, "lost": orders - once}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--files", type=int, default=2200)
    parser.add_argument("--expressions", type=int, default=135)
    parser.add_argument("--csv", type=int, default=340)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--orders", type=int, default=3000)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        for run in (
            lambda: probe_files(rng, args.files, tmp),
            lambda: probe_expressions(rng, args.expressions),
            lambda: probe_csv(rng, args.csv, tmp),
            lambda: probe_kills(rng, args.kills, args.orders, tmp),
        ):
            begun = time.perf_counter()
            figures = run()
            figures["seconds"] = round(time.perf_counter() - begun, 1)
            print(json.dumps(figures, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
