"""Who may fire: role names, users of the factory config, department members."""

from __future__ import annotations

from crmflow.core.factory import Department, FactoryConfig

ORDER = {"order": {"number": "SO-1", "quantity": 5}}


def test_users_and_department_members_act_with_their_roles(make_engine):
    factory = FactoryConfig(
        users={"mia": {"roles": ["planner"]}, "otto": {"roles": []}},
        departments=[Department(id="plant", title="Plant", members=("otto", "ida"),
                                roles=("manager",))],
    )
    engine = make_engine(factory=factory)
    iid = engine.start("order", data=ORDER)
    engine.fire(iid, "confirm")

    assert engine.roles_of("mia") == {"planner"}
    assert engine.roles_of("otto") == {"manager"}  # from the department
    assert engine.roles_of("planner") == {"planner"}  # not a person: a role name
    assert engine.fire(iid, "schedule", actor="ida").code == "role"
    assert engine.fire(iid, "schedule", actor="mia").taken
    assert engine.fire(iid, "cancel", actor="ida").state == "cancelled"
