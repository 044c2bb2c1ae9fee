"""Guards and templates are bounded: a runaway one is refused with a reason.

How quickly is a figure of bench/expression_bounds.py, not a test condition.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crmflow import Engine
from crmflow.core.engine.expressions import (
    MissingField,
    compile_expression,
    compile_template,
    make_environment,
)
from crmflow.errors import CrmflowError, ExpressionError
from crmflow.testing import FakeClock
from tests.domain.conftest import START

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


@pytest.mark.parametrize("source", RUNAWAY_EXPRESSIONS)
def test_runaway_expressions_are_refused_quickly(source: str) -> None:
    env = make_environment()
    with pytest.raises(ExpressionError, match="refused"):
        compile_expression(source, env)({})


@pytest.mark.parametrize("source", RUNAWAY_TEMPLATES)
def test_runaway_templates_are_refused_quickly(source: str) -> None:
    env = make_environment()
    with pytest.raises(ExpressionError, match="refused"):
        compile_template(source, env)({"s": "x" * 100_000})


@pytest.mark.parametrize(
    "source, words",
    [
        ("{% include 'other' %}", "uses {% include %}"),
        ("{% import 'm' as m %}", "uses {% import %}"),
        ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "uses {% macro %}"),
    ],
)
def test_unboundable_constructs_are_refused_when_compiled(source: str, words: str) -> None:
    with pytest.raises(ExpressionError, match="refused") as err:
        compile_template(source, make_environment())
    assert words in str(err.value)


@pytest.mark.parametrize("source", ["x[" + "9" * 4400 + "]", "(" * 2000 + "1" + ")" * 2000])
def test_unparsable_numbers_and_nesting_are_expression_errors(source: str) -> None:
    with pytest.raises(ExpressionError, match="does not parse|nested too deeply"):
        compile_expression(source, make_environment())


def test_template_fallback_for_a_missing_field_while_guards_still_refuse() -> None:
    env = make_environment()
    ctx = {"order": {"order_id": "O1"}}
    assert compile_template("{{ order.sales_rep or 'sales' }}", env)(ctx) == "sales"
    assert compile_template("to {{ order.sales_rep or 'sales' }}", env)(ctx) == "to sales"
    assert compile_template("{{ order.sales_rep }}", env)(ctx) is None
    with pytest.raises(MissingField) as missing:
        compile_template("{{ order.sales_rep }}", env)(ctx, strict=True)
    assert missing.value.field == "order.sales_rep"
    with pytest.raises(MissingField) as missing:
        compile_expression("order.sales_rep == 'ann'", env)(ctx)
    assert missing.value.field == "order.sales_rep"


@pytest.mark.parametrize(
    "source, words",
    [
        ("{{ 1 / 0 }} units", "division by zero"),
        ("{{ order.qty * 2 }} units", "field 'order.qty' is missing"),
        ("{{ 'a' + 1 }} units", "failed"),
    ],
)
def test_template_runtime_errors_are_expression_errors(source: str, words: str) -> None:
    with pytest.raises(ExpressionError) as err:
        compile_template(source, make_environment())({"order": {}})
    assert words in str(err.value)


RUNAWAY_FLOW = """\
workflow: runaway
version: 1
entity: order
initial: open
states:
  open: {}
  done: {final: true}
transitions:
  - trigger: close
    from: open
    to: done
    when: "(('x' * 100000)|replace('x', 'x' * 100000))|length > 0"
  - trigger: label
    from: open
    to: done
    do:
      - action: notify
        with: {to: "{{ order.sales_rep or 'sales' }}", text: "{{ order.qty / 0 }} pieces"}
"""


def test_a_runaway_guard_is_a_refusal_and_a_bad_template_changes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "runaway.yaml").write_text(RUNAWAY_FLOW)
    engine = Engine.open(f"sqlite:///{tmp_path / 'db.sqlite3'}", workflows=folder,
                         clock=FakeClock(START), load_entry_points=False)  # fmt: skip
    try:
        iid = engine.start("runaway", {"order": {"qty": 3}})
        result = engine.fire(iid, "close")
        assert not result.taken and result.code == "guard"
        assert "replacement too large" in (result.reason or "")
        with pytest.raises(CrmflowError, match="division by zero"):
            engine.fire(iid, "label")
        assert engine.get(iid).state == "open"
    finally:
        engine.close()
