"""Request and response schemas of the JSON API; the OpenAPI document is generated from them."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

__all__ = [
    "ChangeIn",
    "ChangeOut",
    "ChildOut",
    "ApiError",
    "EventIn",
    "EventOut",
    "FireIn",
    "FireOut",
    "ImpactIn",
    "InboxItem",
    "InstanceOut",
    "InstanceQuery",
    "KpiQuery",
    "MeOut",
    "StartIn",
    "StartOut",
]

_no_nul = validate.Regexp(r"^[^\x00]*$", error="must not contain NUL characters")
_name = [validate.Length(min=1, max=200), _no_nul]


class _Strict(Schema):
    class Meta:
        ordered = True


class ErrorBody(_Strict):
    code = fields.String(required=True)
    message = fields.String(required=True)
    field = fields.String()


class ApiError(_Strict):
    error = fields.Nested(ErrorBody, required=True)


class MeOut(_Strict):
    username = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)
    departments = fields.List(fields.String(), required=True)
    language = fields.String(allow_none=True, required=True)


class InstanceQuery(_Strict):
    workflow = fields.String(validate=[validate.Length(max=100), _no_nul])
    state = fields.String(validate=[validate.Length(max=100), _no_nul])
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    # The engine lists newest first without an SQL offset: pages past 10,000 rows are refused.
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10_000))


class HistoryOut(_Strict):
    trigger = fields.String(required=True)
    from_ = fields.String(data_key="from", attribute="from", allow_none=True, required=True)
    to = fields.String(required=True)
    at = fields.String(required=True)
    actor = fields.String(allow_none=True, required=True)


class TimerOut(_Strict):
    trigger = fields.String(required=True)
    due = fields.String(required=True)
    kind = fields.String(required=True)


class VoteOut(_Strict):
    by = fields.String(required=True)
    for_ = fields.String(data_key="for", attribute="for", required=True)
    decision = fields.String(required=True)
    at = fields.String(required=True)
    comment = fields.String(allow_none=True)
    state = fields.String()


class ChildOut(_Strict):
    id = fields.Integer(required=True)
    workflow = fields.String(required=True)
    state = fields.String(required=True)
    finished = fields.Boolean(required=True)


class InstanceOut(_Strict):
    id = fields.Integer(required=True)
    workflow = fields.String(required=True)
    version = fields.Integer(required=True)
    state = fields.String(required=True)
    data = fields.Dict(required=True)
    history = fields.List(fields.Nested(HistoryOut))
    timers = fields.List(fields.Nested(TimerOut), required=True)
    finished = fields.Boolean(required=True)
    created_at = fields.String(required=True)
    updated_at = fields.String(required=True)
    approvals = fields.List(fields.Nested(VoteOut))  # votes of approval states (show --json)
    started_by = fields.String(allow_none=True)
    #: a parallel state's regions, region -> state ({} outside one), as show --json
    regions = fields.Dict(keys=fields.String(), values=fields.String())
    children = fields.List(fields.Nested(ChildOut))  # sub-workflows started by `call:` states
    parent = fields.Integer(allow_none=True)  # the instance whose `call:` started this one
    triggers = fields.List(fields.String())


class StartIn(_Strict):
    workflow = fields.String(required=True, validate=_name)
    data = fields.Dict(load_default=dict)


class StartOut(_Strict):
    id = fields.Integer(required=True)
    state = fields.String(required=True)


class FireIn(_Strict):
    trigger = fields.String(required=True, validate=_name)
    data = fields.Dict(load_default=None, allow_none=True)
    key = fields.String(validate=_name)


class FireOut(_Strict):
    taken = fields.Boolean(required=True)
    state = fields.String(required=True)


class InboxItem(_Strict):
    instance_id = fields.Integer(required=True)
    workflow = fields.String(required=True)
    state = fields.String(required=True)
    title = fields.String(required=True)
    owner = fields.String(allow_none=True, required=True)
    due = fields.String(allow_none=True, required=True)
    overdue = fields.Boolean(required=True)
    triggers = fields.List(fields.String(), required=True)
    workflow_title = fields.String()
    subject = fields.String(allow_none=True)


class EventIn(_Strict):
    event = fields.String(required=True, validate=_name)
    data = fields.Dict(required=True)
    key = fields.String(validate=_name)


class EventOut(_Strict):
    started = fields.List(fields.Integer(), required=True)
    moved = fields.List(fields.Integer(), required=True)


class ChangeIn(_Strict):
    sku = fields.String(required=True, validate=[validate.Length(min=1, max=100), _no_nul])
    field = fields.String(required=True, validate=validate.OneOf(
        ["quantity", "requested_date", "promised_date"]))  # fmt: skip
    new = fields.Raw(required=True, allow_none=False)
    reason = fields.String(required=True, validate=[validate.Length(min=1, max=500), _no_nul])


class ChangeOut(_Strict):
    change_id = fields.Integer(required=True)
    status = fields.String(required=True)
    impact = fields.Dict(required=True)


class ImpactIn(_Strict):
    sku = ChangeIn._declared_fields["sku"]
    field = ChangeIn._declared_fields["field"]
    new = ChangeIn._declared_fields["new"]
    reason = fields.String(validate=validate.Length(max=500))


class KpiQuery(_Strict):
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    by = fields.String(validate=[validate.Length(max=50), _no_nul])
