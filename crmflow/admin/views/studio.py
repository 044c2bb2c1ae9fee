"""The consultant's studio: workflow diagrams with live counts, the YAML editor, versions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from crmflow.core import studio
from crmflow.core.diagram import WorkflowDiagram, state_counts
from crmflow.errors import CrmflowError, InputError, NotFoundError, ValidationError

from ..security import current_person, json_error
from .common import engine, render_error

__all__ = ["bp"]

bp = Blueprint("studio", __name__)

_MAX_SOURCE = 512 * 1024


def _definition(workflow: str) -> Any:
    eng = engine()
    if workflow not in eng.catalog.ids():
        raise NotFoundError(f"no workflow {workflow!r}")
    return eng.catalog.newest(workflow).definition


@bp.get("/studio")
def index() -> Any:
    eng = engine()
    rows = []
    states = eng.rollout.states(eng.catalog.ids())
    for workflow in eng.catalog.ids():
        definition = eng.catalog.newest(workflow).definition
        counts = state_counts(eng, workflow)
        rows.append({
            "id": workflow, "title": definition.title or workflow,
            "version": definition.version,
            "running": sum(c.running for name, c in counts.items() if "." not in name),
            "overdue": sum(c.overdue for name, c in counts.items() if "." not in name),
            "rollout": states.get(workflow),
        })  # fmt: skip
    return render_template("studio/index.html", rows=rows,
                           can_edit=_may_edit())  # fmt: skip


def _may_edit() -> bool:
    return bool(studio.EDITOR_ROLES & current_person().roles)


@bp.get("/studio/<workflow>")
def diagram(workflow: str) -> Any:
    try:
        definition = _definition(workflow)
    except NotFoundError as exc:
        return render_error(404, str(exc))
    eng = engine()
    picture = WorkflowDiagram.from_source(definition.source)
    counts = state_counts(eng, workflow)
    selected = request.args.get("state")
    instances = []
    if selected:
        top = selected.split(".", 1)[0]
        instances = [i for i in eng.list(workflow=workflow, state=top, limit=200)
                     if not i.finished]  # fmt: skip
    svg = picture.svg(counts, link=lambda s: url_for("studio.diagram", workflow=workflow,
                                                     state=s) + "#instances")  # fmt: skip
    return render_template(
        "studio/diagram.html", workflow=workflow, definition=definition, picture=picture,
        svg=Markup(svg), mermaid=picture.mermaid(counts), counts=counts, selected=selected,
        instances=instances, can_edit=_may_edit(),
    )  # fmt: skip


@bp.get("/studio/<workflow>/edit")
def edit(workflow: str) -> Any:
    if not _may_edit():
        return render_error(403, _("Only consultants and admins may edit workflows."))
    try:
        definition = _definition(workflow)
    except NotFoundError as exc:
        return render_error(404, str(exc))
    scenario = studio.scenario_for(engine().catalog.folder, workflow)
    return render_template("studio/edit.html", workflow=workflow, definition=definition,
                           source=definition.source, problems=[], saved=None,
                           scenario=scenario)  # fmt: skip


@bp.post("/studio/<workflow>/edit")
def save(workflow: str) -> Any:
    person = current_person()
    eng = engine()
    source = request.form.get("source") or ""
    try:
        definition = _definition(workflow)
        if len(source) > _MAX_SOURCE:
            raise InputError("the draft is too large", field="source")
        saved = studio.save_draft(source, folder=eng.catalog.folder, factory=eng.factory,
                                  roles=person.roles, who=person.username)  # fmt: skip
    except ValidationError as exc:
        return render_template("studio/edit.html", workflow=workflow, definition=definition,
                               source=source, problems=exc.problems, saved=None,
                               scenario=studio.scenario_for(eng.catalog.folder, workflow)), 422
    except CrmflowError as exc:
        status = 403 if getattr(exc, "reason", "") == "role" else 422
        return render_error(status, str(exc))
    eng.catalog.reload()
    return redirect(url_for("studio.version", workflow=saved.workflow, version=saved.version))


@bp.get("/studio/<workflow>/versions/<int:version>")
def version(workflow: str, version: int) -> Any:
    eng = engine()
    files = studio.version_files(eng.catalog.folder, workflow)
    by_version = {f.version: f for f in files}
    if version not in by_version:
        return render_error(404, _("No such version."))
    older = [f for f in files if f.version < version]
    previous = older[-1] if older else None
    diff = studio.diff_versions(previous.source if previous else "", by_version[version].source,
                                workflow, previous.version if previous else 0, version)  # fmt: skip
    return render_template("studio/version.html", workflow=workflow, version=version,
                           files=files, diff=diff.splitlines())  # fmt: skip


@bp.post("/studio/api/check")
def check() -> Any:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("source"), str):
        return json_error(400, "malformed", "send {\"source\": \"…\"}", "source")
    if len(body["source"]) > _MAX_SOURCE:
        return json_error(422, "invalid", "the draft is too large", "source")
    name = str(body.get("name") or "draft.yaml")[:200]
    problems = studio.check_draft(body["source"], factory=engine().factory, name=name)
    return jsonify({"problems": [
        {"line": p.line, "column": p.column, "severity": p.severity, "message": p.message,
         "text": str(p)} for p in problems
    ]})  # fmt: skip


@bp.post("/studio/api/simulate")
def simulate() -> Any:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not all(
        isinstance(body.get(k), str) for k in ("source", "scenario")
    ):
        return json_error(400, "malformed", "send {\"source\", \"scenario\"}", "scenario")
    if len(body["source"]) > _MAX_SOURCE or len(body["scenario"]) > _MAX_SOURCE:
        return json_error(422, "invalid", "the draft or scenario is too large", "source")
    eng = engine()
    try:
        report = studio.simulate_draft(body["source"], body["scenario"],
                                       folder=eng.catalog.folder, factory=eng.factory)  # fmt: skip
    except ValidationError as exc:
        return json_error(422, "invalid", "; ".join(str(p) for p in exc.problems[:5]), "source")
    except CrmflowError as exc:
        return json_error(422, "invalid", str(exc), "scenario")
    return jsonify(report.as_json() | {"text": report.as_text()})


def _running_states(eng: Any, workflow: str, version: int) -> list[tuple[int, str]]:
    """(version, state) pairs of open instances not on ``version``, each once."""
    seen: dict[tuple[int, str], None] = {}
    for inst in eng.list(workflow=workflow):
        if not inst.finished and inst.version != version:
            seen.setdefault((inst.version, inst.state), None)
    return sorted(seen)


@bp.route("/studio/<workflow>/migrate", methods=["GET", "POST"])
def migrate(workflow: str) -> Any:
    """Preview, then apply, moving open instances to a version (consultants and admins)."""
    eng = engine()
    person = current_person()
    try:
        newest = _definition(workflow)
        studio.require_editor(person.roles, person.username)
    except NotFoundError as exc:
        return render_error(404, str(exc))
    except CrmflowError as exc:
        return render_error(403, str(exc))
    raw_version = request.values.get("version") or str(newest.version)
    if not raw_version.isdigit() or len(raw_version) > 9:
        return render_error(422, _("The version must be a number."))
    version = int(raw_version)
    try:
        target = eng.catalog.definition(workflow, version)
    except NotFoundError as exc:
        return render_error(404, str(exc))
    mapping = {
        key[4:]: value for key, value in request.form.items()
        if key.startswith("map:") and value and value in target.states
    }  # fmt: skip
    report = None
    error = None
    if request.method == "POST":
        apply = request.form.get("action") == "apply"
        try:
            report = eng.migrate_instances(workflow, version, mapping, dry_run=not apply,
                                           actor=person.username)  # fmt: skip
        except CrmflowError as exc:
            error = str(exc)
    missing = [(v, s) for v, s in _running_states(eng, workflow, version) if s not in target.states]
    return render_template(
        "studio/migrate.html", workflow=workflow, version=version, target=target,
        missing=missing, mapping=mapping, report=report, error=error,
        applied=bool(report and not report.dry_run),
    ), (422 if error else 200)  # fmt: skip
