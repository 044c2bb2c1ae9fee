"""Breakdowns: which group an order line, product or stock row belongs to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from crmflow.errors import InputError

__all__ = [
    "DIMENSIONS",
    "NONE_GROUP",
    "TOTAL",
    "Breakdown",
    "department_breakdown",
    "make_breakdown",
]

#: Dimensions ``crmflow kpi --by`` accepts.
DIMENSIONS = ("department", "segment", "family", "sku")

#: Group key of the factory total inside SQL (mapped to ``None`` in results).
TOTAL = ""

#: Group of records that have no value in the dimension (a rep in no
#: department, a customer without segment).
NONE_GROUP = "(none)"


@dataclass(frozen=True)
class Breakdown:
    """A dimension to group by; departments map sales reps to a group label.

    ``reps`` maps a sales rep to its group (the department id, or ``pilot``
    for a pilot comparison); ``default`` is the group of the other reps
    (``None`` puts them under ``(none)``).
    """

    dimension: str
    reps: Mapping[str, str] = field(default_factory=dict)
    default: str | None = None

    @property
    def by_product(self) -> bool:
        """True when the group is a property of the product (family, SKU)."""
        return self.dimension in ("family", "sku")

    def line_group(
        self, *, orders: Any, customers: Any, lines: Any, products: Any
    ) -> ColumnElement:
        """The group of an order line (SQL), from the joined order, customer and product."""
        if self.dimension == "department":
            if self.reps:
                expr = sa.case(self.reps, value=orders.c.sales_rep, else_=sa.literal(self.default))
            else:
                expr = sa.literal(self.default, sa.String)
        elif self.dimension == "segment":
            expr = customers.c.segment
        elif self.dimension == "family":
            expr = products.c.family
        else:
            expr = lines.c.sku
        return sa.func.coalesce(expr, NONE_GROUP)

    def product_group(self, products: Any) -> ColumnElement | None:
        """The group of a product row (SQL), or ``None`` when the dimension is not a product's."""
        if self.dimension == "family":
            return sa.func.coalesce(products.c.family, NONE_GROUP)
        if self.dimension == "sku":
            return products.c.sku
        return None

    def as_json(self) -> dict[str, Any]:
        return {"dimension": self.dimension}


def department_breakdown(departments: Iterable[Any], *, pilot: set[str] | None = None) -> Breakdown:
    """Group by department: each department's members are its sales reps.

    A rep listed in two departments counts for the first. With ``pilot``
    (department ids), the groups are ``pilot`` and ``rest`` instead.
    """
    reps: dict[str, str] = {}
    for dept in departments:
        label = dept.id if pilot is None else ("pilot" if dept.id in pilot else "rest")
        for member in getattr(dept, "members", None) or []:
            reps.setdefault(str(member), label)
    if pilot is None:
        return Breakdown("department", reps)
    return Breakdown("department", reps, default="rest")


def make_breakdown(dimension: str | None, factory: Any) -> Breakdown | None:
    """The breakdown for ``--by DIMENSION`` (``None`` for the factory total)."""
    if dimension is None:
        return None
    if dimension not in DIMENSIONS:
        raise InputError(
            f"cannot break KPIs down by {dimension!r}; use one of {', '.join(DIMENSIONS)}",
            field="--by",
        )
    if dimension == "department":
        return department_breakdown(getattr(factory, "departments", None) or [])
    return Breakdown(dimension)
