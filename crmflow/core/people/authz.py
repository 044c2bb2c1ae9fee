"""Who may do what: the person behind a login and the checks every edge (page, API, CLI) calls.

The web and the API never take an actor from the client: they build a :class:`Person`
from the signed-in login and call these functions, which check the roles and then call
the engine or the domain with that person as the actor.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crmflow.core.engine.expressions import MissingField
from crmflow.core.engine.regions import open_states
from crmflow.core.engine.results import FireResult, Instance
from crmflow.core.store import reading
from crmflow.errors import CrmflowError, InputError, NotFoundError

from .accounts import Account, accounts_named

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine.definition import WorkflowDef
    from crmflow.core.engine.runtime import Engine

__all__ = [
    "ACTION_ROLES",
    "ForbiddenError",
    "Person",
    "available_triggers",
    "delegate_as",
    "fire_as",
    "may_read",
    "person_for",
    "person_named",
    "readers",
    "require",
    "start_as",
    "workflow_roles",
]

#: Roles allowed to do what no workflow transition describes. A factory may widen or
#: narrow a line with ``settings: {web_permissions: {change_order: [sales, manager]}}``.
ACTION_ROLES: dict[str, tuple[str, ...]] = {
    "change_order": ("sales", "planner", "manager"),
    "delegate_any": ("manager",),
}


class ForbiddenError(CrmflowError):
    """The person's roles do not allow this action; nothing changed."""

    exit_code = 3


@dataclass(frozen=True)
class Person:
    """A signed-in person: username, all roles (factory, departments, login) and departments."""

    username: str
    roles: frozenset[str]
    departments: tuple[str, ...]
    language: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "username": self.username, "roles": sorted(self.roles),
            "departments": list(self.departments), "language": self.language,
        }  # fmt: skip


def person_for(engine: Engine, account: Account) -> Person:
    """The person of a login; the login's own roles are made known to the engine's role check."""
    departments = [d.id for d in engine.factory.departments if account.username in d.members]
    roles = set(engine.roles_of(account.username)) if _known(engine, account.username) else set()
    roles.update(account.roles)
    if account.department and account.department not in departments:
        departments.append(account.department)
        for d in engine.factory.departments:
            if d.id == account.department:
                roles.update(d.roles)
    if roles != set(engine.roles_of(account.username)) or not _known(engine, account.username):
        # Engine.roles_of reads the factory's `users:`; a login's extra roles join it there,
        # so fires made as this person are checked against the same roles.
        engine.factory.users[account.username] = {"roles": sorted(roles)}
    return Person(account.username, frozenset(roles), tuple(departments), account.language)


def _known(engine: Engine, username: str) -> bool:
    return username in engine.factory.users or any(
        username in d.members for d in engine.factory.departments
    )


def may_read(account: Account) -> bool:
    """Whether a login may read: every page, every instance (``GET /api/instances/{id}``) and
    its transitions on the live stream. Reading is not split by role (docs/web.md: every
    signed-in person reads every page); a disabled login reads nothing from then on."""
    return account.active


def readers(engine: Engine, usernames: Iterable[str]) -> frozenset[str]:
    """Those of ``usernames`` who may read instances now (:func:`may_read`), in one query:
    the live stream asks this once per poll for the people with a stream open."""
    return frozenset(a.username for a in accounts_named(engine, usernames) if may_read(a))


def require(engine: Engine, person: Person, action: str) -> None:
    """Raise :class:`ForbiddenError` unless one of the person's roles may do ``action``."""
    custom = (engine.settings.get("web_permissions") or {}).get(action)
    allowed = tuple(custom) if custom else ACTION_ROLES.get(action, ())
    if person.roles.isdisjoint(allowed):
        mine = ", ".join(sorted(person.roles)) or "none"
        raise ForbiddenError(
            f"role: {person.username} ({mine}) may not {action.replace('_', ' ')} "
            f"(allowed: {', '.join(allowed) or 'nobody'})"
        )


def workflow_roles(definition: WorkflowDef) -> set[str]:
    """Roles a workflow names: state owners and transition roles."""
    roles = {s.owner for s in definition.states.values() if s.owner}
    for t in definition.transitions:
        roles.update(t.roles or ())
    return roles


def _allows(tdef: Any, roles: frozenset[str]) -> bool:
    return tdef.roles is None or not roles.isdisjoint(tdef.roles)


def available_triggers(
    engine: Engine, person: Person, inst: Instance, definition: WorkflowDef | None = None
) -> list[str]:
    """The triggers ``person`` may fire on ``inst`` now (role and guard pass), in file order.

    The same rule the engine applies when firing: the first transition whose
    source, roles and guard match is taken. ``definition`` (the instance's
    workflow version) saves a read when the caller has it.
    """
    if inst.finished:
        return []
    engine_api = getattr(engine, "available_triggers", None)
    if callable(engine_api):  # a newer engine answers itself (approval votes, regions)
        return list(engine_api(inst, actor=person.username))
    if definition is None or (definition.id, definition.version) != (inst.workflow, inst.version):
        with reading(engine.db) as conn:
            definition = engine.catalog.get(conn, inst.workflow, inst.version).definition
    context = engine.expression_context(inst.data, {}, inst.state, engine.now())
    found: list[str] = []
    sdef = definition.states.get(inst.state)
    approval = getattr(sdef, "approval", None)
    if approval is not None:  # an approval state takes votes from its approvers
        voters = set(approval.approvers)
        started_by = getattr(inst, "started_by", None) or (inst.history[0].actor
                                                           if inst.history else None)
        four_eyes_out = approval.four_eyes and started_by == person.username
        if (person.username in voters or person.roles & voters) and not four_eyes_out:
            found += ["approve", "reject"]
    # in a parallel state, the triggers its open regions accept too
    current = {inst.state, *open_states(definition, inst.state, getattr(inst, "regions", None))}
    for tdef in definition.transitions:
        if current.isdisjoint(tdef.sources) or tdef.trigger in found or tdef.auto:
            continue
        if not _allows(tdef, person.roles):
            continue
        if tdef.when is not None:
            try:
                if not tdef.when(context):
                    continue
            except MissingField:
                continue
            except CrmflowError:
                continue
        found.append(tdef.trigger)
    return found


def fire_as(
    engine: Engine, person: Person, iid: int, trigger: str,
    data: dict[str, Any] | None = None, key: str | None = None,
) -> FireResult:  # fmt: skip
    """Fire as the person; the engine refuses (``role``, ``guard``, ``trigger``, ``finished``)."""
    inst = engine.get(iid)
    if inst.finished:
        return FireResult(False, inst.state, reason=f"finished: instance {iid} is finished "
                          f"in {inst.state!r}", code="finished", instance_id=iid)  # fmt: skip
    return engine.fire(iid, trigger, data=data, key=key, actor=person.username)


def start_as(
    engine: Engine, person: Person, workflow: str, data: dict[str, Any] | None = None,
    key: str | None = None,
) -> int:  # fmt: skip
    """Start ``workflow`` as the person: one of their roles must be one the workflow names."""
    definition = engine.catalog.newest(workflow).definition
    named = workflow_roles(definition)
    if named and person.roles.isdisjoint(named) and "manager" not in person.roles:
        raise ForbiddenError(
            f"role: {person.username} may not start {workflow!r} "
            f"(roles it names: {', '.join(sorted(named))})"
        )
    return engine.start(workflow, data=data or {}, actor=person.username, key=key)


#: the engine's delegation fields (the CLI's) -> the delegation form's
_FORM_FIELDS = {"FROM": "delegate", "TO": "delegate", "--from": "start", "--until": "end"}


def delegate_as(
    engine: Engine, person: Person, delegate: str, start: Any, end: Any,
    approver: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Hand ``approver``'s approvals (default: the person's own) to ``delegate`` for a period.

    A person delegates their own approvals if they are an approver of the factory;
    a manager may delegate anyone's.
    """
    from crmflow.core.domain.approvals import add_delegation  # domain imports stay lazy

    approver = approver or person.username
    approvers = {str(a) for a in engine.settings.get("approvers") or ()}
    approvers.update(str(a) for a in engine.settings.get("approval_board") or ())
    if approver != person.username:
        require(engine, person, "delegate_any")
    elif approver not in approvers:
        raise ForbiddenError(f"role: {person.username} approves nothing, so has nothing to hand on")
    engine_api = getattr(engine, "delegate", None)
    if callable(engine_api):  # the engine's own delegation (its rules), when it has one
        try:
            return dict(engine_api(approver, delegate, start, end, by=person.username))
        except InputError as exc:  # named after the form's fields
            raise InputError(exc.message, field=_FORM_FIELDS.get(exc.field or "", exc.field)
                             ) from exc  # fmt: skip
    if delegate not in engine.factory.people:
        raise InputError(f"no person {delegate!r} in this factory", field="delegate")
    now = engine.now()
    with engine.db.begin() as conn:
        row = add_delegation(conn, approver, delegate, start, end, by=person.username,
                             now=now.replace(tzinfo=None))  # fmt: skip
    return {k: (v.isoformat() if isinstance(v, dt.date | dt.datetime) else v)
            for k, v in row.items()}  # fmt: skip


def person_named(engine: Engine, name: str) -> Person:
    """The person a command line's ``--as`` names: a login, a factory user, or a bare role."""
    from .accounts import get_account

    try:
        return person_for(engine, get_account(engine, name))
    except NotFoundError:
        pass
    departments = tuple(d.id for d in engine.factory.departments if name in d.members)
    return Person(name, engine.roles_of(name), departments)
