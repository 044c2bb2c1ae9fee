"""First steps: a checklist per role, ticked off as each person actually does each step.

A step is done when the records show it: a demand change the person recorded,
a trigger they fired on a workflow, a delegation they set up — or, for steps
that only read (a customer 360, a projection), an activity the web app noted
when the person opened that page (:func:`note`). Nothing is ticked by hand, so
the manager running the rollout sees who has really started working in crmflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from crmflow.errors import InputError

__all__ = [
    "CHECKLISTS",
    "ACTIVITIES",
    "Step",
    "StepStatus",
    "checklist_for",
    "factory_people",
    "note",
    "progress",
    "team_progress",
    "user_activity",
]

_metadata = sa.MetaData()
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

user_activity = sa.Table(
    "user_activity",
    _metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(200), nullable=False),
    sa.Column("activity", sa.String(50), nullable=False),
    sa.Column("subject", sa.String(200), nullable=True),
    sa.Column("device", sa.String(10), nullable=True),  # desk | phone
    sa.Column("at", sa.DateTime, nullable=False),  # naive UTC
    sa.Index("ix_user_activity_user", "username", "activity"),
)

#: what the web app may note; each read-only step is one of these
ACTIVITIES = (
    "order_viewed", "customer_viewed", "projection_viewed", "ctp_checked", "kpi_viewed",
    "dashboard_viewed", "rollout_viewed", "diagram_viewed", "draft_validated", "inbox_viewed",
    "approval_decided",
)  # fmt: skip


@dataclass(frozen=True)
class Step:
    """One step of a role's checklist; ``rule`` says which record proves it done."""

    id: str
    title: str
    title_zh: str
    #: activity:<name>[@phone] | fired:<workflow|*>[:trigger,…] | demand_change | delegation
    rule: str
    link: str = "/"


@dataclass(frozen=True)
class StepStatus:
    step: Step
    done_at: datetime | None

    @property
    def done(self) -> bool:
        return self.done_at is not None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.step.id,
            "title": self.step.title,
            "title_zh": self.step.title_zh,
            "link": self.step.link,
            "done": self.done,
            "done_at": self.done_at.replace(tzinfo=UTC).isoformat() if self.done_at else None,
        }


CHECKLISTS: dict[str, tuple[Step, ...]] = {
    "sales": (
        Step("find_order", "Follow an order's timeline", "查看一个订单的时间线",
             "activity:order_viewed", "/orders"),
        Step("customer_360", "Read a customer 360", "查看客户 360 视图",
             "activity:customer_viewed", "/customers"),
        Step("demand_change", "Record a demand change", "录入一次需求变更", "demand_change",
             "/orders"),
    ),
    "supervisor": (
        Step("open_inbox", "Open your inbox", "打开待办箱", "activity:inbox_viewed", "/"),
        Step("approve_on_phone", "Approve or reject from your phone", "用手机审批一次",
             "activity:approval_decided@phone", "/"),
        Step("delegate", "Hand your approvals to a deputy for a period", "设置审批代理人",
             "delegation", "/delegations"),
    ),
    "planner": (
        Step("projection", "Read a SKU's projected inventory", "查看 SKU 预计库存",
             "activity:projection_viewed", "/inventory"),
        Step("ctp", "Check a capable-to-promise date", "查询可承诺交期", "activity:ctp_checked",
             "/orders"),
        Step("answer_alert", "Answer an inventory alert", "处理一条库存预警",
             "fired:inventory_alert", "/"),
    ),
    "purchasing": (
        Step("projection", "Read a SKU's projected inventory", "查看 SKU 预计库存",
             "activity:projection_viewed", "/inventory"),
        Step("answer_alert", "Answer an inventory alert", "处理一条库存预警",
             "fired:inventory_alert", "/"),
    ),
    "logistics": (
        Step("open_inbox", "Open your inbox", "打开待办箱", "activity:inbox_viewed", "/"),
        Step("find_order", "Follow an order's timeline", "查看一个订单的时间线",
             "activity:order_viewed", "/orders"),
    ),
    "manager": (
        Step("dashboard", "Read the S&OP dashboard", "查看产销协同看板",
             "activity:dashboard_viewed", "/dashboard"),
        Step("kpi", "Read the KPI page", "查看 KPI 页面", "activity:kpi_viewed", "/kpi/"),
        Step("rollout", "Review the pilot's figures", "查看试点数据", "activity:rollout_viewed",
             "/rollout"),
    ),
    "consultant": (
        Step("diagram", "Open a workflow diagram", "查看流程图", "activity:diagram_viewed",
             "/studio"),
        Step("validate", "Validate a draft in the editor", "在编辑器中校验草稿",
             "activity:draft_validated", "/studio"),
    ),
}  # fmt: skip


def checklist_for(roles: Iterable[str]) -> list[Step]:
    """The steps of every role a person holds, each once, in role order."""
    steps: dict[str, Step] = {}
    for role in roles:
        for step in CHECKLISTS.get(role, ()):
            steps.setdefault(step.id, step)
    return list(steps.values())


def note(
    db: sa.Engine, username: str, activity: str, *, subject: str | None = None,
    device: str | None = None, now: datetime | None = None,
) -> None:  # fmt: skip
    """Remember that ``username`` did ``activity`` (the web app calls it on page views)."""
    if activity not in ACTIVITIES:
        raise InputError(f"unknown activity {activity!r}; one of {', '.join(ACTIVITIES)}",
                         field="activity")  # fmt: skip
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    with db.begin() as conn:
        conn.execute(
            user_activity.insert().values(
                username=username, activity=activity,
                subject=(subject or "")[:200] or None, device=device, at=moment,
            )  # fmt: skip
        )


def _done_at(conn: sa.Connection, username: str, rule: str) -> datetime | None:
    phone = rule.endswith("@phone")
    rule = rule.removesuffix("@phone")
    kind, _, arg = rule.partition(":")
    if kind == "activity":
        a = user_activity.c
        query = sa.select(sa.func.min(a.at)).where(a.username == username, a.activity == arg)
        if phone:
            query = query.where(a.device == "phone")
        return conn.execute(query).scalar()
    if kind == "demand_change":
        return conn.execute(
            sa.text(
                "SELECT min(changed_at) FROM demand_changes WHERE changed_by = :u "
                "AND source = 'user'"
            ),
            {"u": username},
        ).scalar()
    if kind == "delegation":
        return conn.execute(
            sa.text(
                "SELECT min(created_at) FROM delegations WHERE created_by = :u OR approver = :u"
            ),
            {"u": username},
        ).scalar()
    if kind == "fired":
        workflow, _, triggers = arg.partition(":")
        sql = (
            "SELECT min(h.at) FROM history h JOIN instances i ON i.id = h.instance_id "
            "WHERE h.actor = :u AND h.trigger <> 'start'"
        )
        params: dict[str, Any] = {"u": username}
        if workflow and workflow != "*":
            sql += " AND i.workflow = :w"
            params["w"] = workflow
        names = [t for t in triggers.split(",") if t]
        if names:
            sql += " AND h.trigger IN (" + ", ".join(f":t{i}" for i in range(len(names))) + ")"
            params.update({f"t{i}": t for i, t in enumerate(names)})
        return conn.execute(sa.text(sql), params).scalar()
    raise ValueError(f"unknown checklist rule {rule!r}")


def progress(db: sa.Engine, username: str, roles: Iterable[str]) -> list[StepStatus]:
    """The person's checklist, each step with when it was first done (or None)."""
    steps = checklist_for(roles)
    with db.connect() as conn:
        return [StepStatus(step, _as_naive(_done_at(conn, username, step.rule))) for step in steps]


def factory_people(engine: Any) -> dict[str, list[str]]:
    """Every person of the factory config (users and department members) with their roles."""
    names = set(engine.factory.users)
    for dept in engine.factory.departments:
        names.update(dept.members)
    return {name: sorted(engine.roles_of(name)) for name in sorted(names)}


def team_progress(
    db: sa.Engine, people: Mapping[str, Iterable[str]]
) -> list[dict[str, Any]]:
    """Per person (username -> roles): steps done of steps due, and the list."""
    rows = []
    for username, roles in sorted(people.items()):
        statuses = progress(db, username, roles)
        rows.append({
            "username": username,
            "done": sum(s.done for s in statuses),
            "total": len(statuses),
            "steps": [s.as_json() for s in statuses],
        })  # fmt: skip
    return rows


def _as_naive(value: Any) -> datetime | None:
    if value is None:
        return None
    # SQLite hands aggregate timestamps back as text
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(moment, datetime)
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
