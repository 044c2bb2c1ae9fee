"""Pictures of a workflow: Mermaid text and a self-contained SVG, drawn from its YAML.

The picture is read from the workflow's own YAML (the language of
workflow-dsl.md), so every construct a consultant writes is drawn as what it
is: approval states with their approvers and quorum, parallel states with their
regions, call states with the workflow they call, automatic transitions,
guards, roles, deadlines and timers. Counts of running and overdue instances
per state can be laid over it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml

__all__ = ["DiagramState", "DiagramTransition", "StateCount", "WorkflowDiagram", "state_counts"]


@dataclass(frozen=True)
class StateCount:
    """Open instances in a state, and how many of them are past their deadline."""

    running: int = 0
    overdue: int = 0


@dataclass
class DiagramState:
    name: str  # dotted for region states: checks.capacity.pending
    kind: str = "state"  # state | final | approval | parallel | call
    title: str | None = None
    owner: str | None = None
    deadline: str | None = None
    on_timeout: str | None = None
    detail: list[str] = field(default_factory=list)
    regions: dict[str, list[DiagramState]] = field(default_factory=dict)
    region_initial: dict[str, str] = field(default_factory=dict)


@dataclass
class DiagramTransition:
    trigger: str  # "auto" for an automatic transition
    source: str
    dest: str  # == source for an internal transition
    when: str | None = None
    roles: tuple[str, ...] = ()
    implicit: bool = False  # drawn from approval/parallel/call outcomes, not a `transitions:` item

    @property
    def label(self) -> str:
        text = self.trigger
        if self.when:
            text += f" [{self.when}]"
        if self.roles:
            text += f" ({', '.join(self.roles)})"
        return text


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


@dataclass
class WorkflowDiagram:
    """The states, transitions and timers of one workflow version, ready to draw."""

    workflow: str
    version: int
    initial: str
    title: str | None
    states: list[DiagramState]
    transitions: list[DiagramTransition]
    timers: list[str]

    # -- reading -----------------------------------------------------------------

    @classmethod
    def from_source(cls, source: str) -> WorkflowDiagram:
        doc = yaml.safe_load(source) or {}
        raw_states: Mapping[str, Any] = doc.get("states") or {}
        states = [cls._state(str(name), spec or {}) for name, spec in raw_states.items()]
        finals = {s.name for s in states if s.kind == "final"}
        top = [s.name for s in states]
        transitions: list[DiagramTransition] = []
        for item in doc.get("transitions") or []:
            if not isinstance(item, dict):
                continue
            sources = _as_list(item.get("from"))
            if sources == ["*"]:
                sources = [s for s in top if s not in finals]
            trigger = str(item["trigger"]) if item.get("trigger") else "auto"
            for source_state in sources:
                transitions.append(
                    DiagramTransition(
                        trigger, source_state, str(item.get("to") or source_state),
                        str(item["when"]) if item.get("when") else None,
                        tuple(_as_list(item.get("roles"))),
                    )  # fmt: skip
                )
        for spec, state in zip(raw_states.values(), states, strict=True):
            transitions.extend(cls._implicit(state, spec or {}))
        timers = []
        for timer in doc.get("timers") or []:
            if not isinstance(timer, dict):
                continue
            when = (
                f"cron {timer['cron']}" if timer.get("cron")
                else f"every {timer['every']}" + (f" (max {timer['max']})" if timer.get("max")
                                                   else "")
                if timer.get("every")
                else f"after {timer.get('after')}"
                + (f" since {timer['since']}" if timer.get("since") else "")
            )  # fmt: skip
            if timer.get("calendar") == "working":
                when += " working time"
            where = ", ".join(_as_list(timer.get("in")))
            timers.append(f"{when} → {timer.get('trigger')} in {where}")
        return cls(
            workflow=str(doc.get("workflow")),
            version=int(doc.get("version") or 0),
            initial=str(doc.get("initial")),
            title=doc.get("title"),
            states=states,
            transitions=transitions,
            timers=timers,
        )

    @classmethod
    def _state(cls, name: str, spec: Mapping[str, Any]) -> DiagramState:
        state = DiagramState(
            name,
            title=spec.get("title"),
            owner=spec.get("owner"),
            deadline=str(spec["deadline"]) if spec.get("deadline") else None,
            on_timeout=spec.get("on_timeout"),
        )
        if spec.get("final"):
            state.kind = "final"
        if isinstance(spec.get("approval"), dict):
            approval = spec["approval"]
            state.kind = "approval"
            approvers = ", ".join(_as_list(approval.get("approvers")))
            state.detail.append(f"approval: {approval.get('required', 1)} of {approvers}")
            if approval.get("four_eyes", True):
                state.detail.append("four eyes")
        if isinstance(spec.get("call"), dict):
            call = spec["call"]
            state.kind = "call"
            each = f" for each {call['for_each']}" if call.get("for_each") else ""
            state.detail.append(f"calls {call.get('workflow')}{each}")
        if isinstance(spec.get("parallel"), dict):
            state.kind = "parallel"
            state.detail.append(f"join: {spec.get('join', 'all')}")
            for region, rspec in spec["parallel"].items():
                rspec = rspec or {}
                state.region_initial[str(region)] = f"{name}.{region}.{rspec.get('initial')}"
                state.regions[str(region)] = [
                    cls._state(f"{name}.{region}.{sname}", sspec or {})
                    for sname, sspec in (rspec.get("states") or {}).items()
                ]
        if state.owner:
            state.detail.insert(0, f"owner: {state.owner}")
        if state.deadline:
            then = f" → {state.on_timeout}" if state.on_timeout else ""
            state.detail.append(f"deadline {state.deadline}{then}")
        return state

    @staticmethod
    def _implicit(state: DiagramState, spec: Mapping[str, Any]) -> list[DiagramTransition]:
        found = []
        raw = spec.get("approval")
        approval: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
        for key, trigger in (("on_approved", "approved"), ("on_rejected", "rejected")):
            if approval.get(key):
                found.append(DiagramTransition(trigger, state.name, str(approval[key]),
                                               implicit=True))  # fmt: skip
        if spec.get("on_done"):
            found.append(DiagramTransition("done", state.name, str(spec["on_done"]), implicit=True))
        return found

    # -- all states, flattened ------------------------------------------------------

    def all_states(self) -> list[DiagramState]:
        out: list[DiagramState] = []
        for state in self.states:
            out.append(state)
            for region in state.regions.values():
                out.extend(region)
        return out

    # -- Mermaid ------------------------------------------------------------------

    def mermaid(self, counts: Mapping[str, StateCount] | None = None) -> str:
        """`stateDiagram-v2` text; region states are drawn inside their parallel state."""
        lines = ["stateDiagram-v2"]
        if self.title:
            lines.insert(0, f"---\ntitle: {_mm_text(str(self.title))}\n---")
        lines.append(f"    [*] --> {_mm_id(self.initial)}")
        for state in self.states:
            lines.extend(_mm_state(state, counts or {}, "    "))
        for t in self.transitions:
            lines.append(f"    {_mm_id(t.source)} --> {_mm_id(t.dest)} : {_mm_text(t.label)}")
        for state in self.states:
            if state.kind == "final":
                lines.append(f"    {_mm_id(state.name)} --> [*]")
        for text in self.timers:
            lines.append(f"    note right of {_mm_id(self.initial)} : {_mm_text('timer: ' + text)}")
        return "\n".join(lines) + "\n"

    # -- SVG ------------------------------------------------------------------------

    def svg(
        self, counts: Mapping[str, StateCount] | None = None,
        link: Callable[[str], str] | None = None,
    ) -> str:  # fmt: skip
        """A self-contained SVG: states in rows by distance from `initial`.

        ``link(state)`` makes each state a link (the studio lists its instances).
        """
        return _SvgLayout(self, counts or {}, link).render()


# -- Mermaid helpers ----------------------------------------------------------------

_ENTITIES = {"#": "#35;", ";": "#59;", ":": "#58;", "<": "#lt;", ">": "#gt;", '"': "#quot;",
             "{": "#123;", "}": "#125;", "|": "#124;", "%": "#37;"}  # fmt: skip


def _mm_id(name: str) -> str:
    return "s_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


def _mm_text(text: str) -> str:
    text = " ".join(text.split())
    return "".join(_ENTITIES.get(ch, ch) for ch in text)


def _mm_label(state: DiagramState, counts: Mapping[str, StateCount]) -> str:
    parts = [state.name.rsplit(".", 1)[-1]]
    if state.title:
        parts[0] += f" – {state.title}"
    parts.extend(state.detail)
    count = counts.get(state.name)
    if count and (count.running or count.overdue):
        parts.append(f"{count.running} running, {count.overdue} overdue")
    return "<br/>".join(_mm_text(p) for p in parts)


def _mm_state(state: DiagramState, counts: Mapping[str, StateCount], pad: str) -> list[str]:
    sid = _mm_id(state.name)
    lines = [f'{pad}state "{_mm_label(state, counts)}" as {sid}']
    if state.kind == "approval":
        lines.append(f"{pad}{sid} : approval")
    if state.kind == "call":  # a sub-workflow: the note names what it calls, and for what
        called = next((d for d in state.detail if d.startswith("calls ")), "calls a workflow")
        lines.append(f"{pad}{sid} : sub-workflow")
        lines.append(f"{pad}note left of {sid} : {_mm_text(called + ', waits for every child')}")
    if state.kind == "parallel" and state.regions:
        inner = f"{sid}_regions"
        lines.append(f'{pad}state "{_mm_text(state.name)} (parallel)" as {inner} {{')
        for i, (region, members) in enumerate(state.regions.items()):
            if i:
                lines.append(f"{pad}    --")
            lines.append(f"{pad}    [*] --> {_mm_id(state.region_initial[region])}")
            for member in members:
                lines.extend(_mm_state(member, counts, pad + "    "))
                if member.kind == "final":
                    lines.append(f"{pad}    {_mm_id(member.name)} --> [*]")
        lines.append(f"{pad}}}")
        lines.append(f"{pad}{sid} --> {inner}")
    return lines


# -- SVG layout -----------------------------------------------------------------------

_BOX_W, _BOX_LINE, _GAP_X, _GAP_Y, _PAD = 230, 16, 40, 70, 20
_COLORS = {"state": "#eef4fb", "final": "#e8f5e9", "approval": "#fff4e0", "parallel": "#f3e8fd",
           "call": "#e0f7f7"}  # fmt: skip
_HALO = 'paint-order="stroke" stroke="#fff" stroke-width="4" stroke-linejoin="round"'


class _SvgLayout:
    """States in rows by their distance from `initial`; edges run down, back edges curve."""

    def __init__(
        self, diagram: WorkflowDiagram, counts: Mapping[str, StateCount],
        link: Callable[[str], str] | None = None,
    ) -> None:  # fmt: skip
        self.d = diagram
        self.counts = counts
        self.link = link
        self.boxes: dict[str, tuple[float, float, float, float]] = {}

    def _lines(self, state: DiagramState) -> list[str]:
        lines = [state.name + (f" – {state.title}" if state.title else "")]
        lines += state.detail
        for region, members in state.regions.items():
            lines.append(f"▸ {region}: " + " → ".join(m.name.rsplit(".", 1)[-1] for m in members))
        count = self.counts.get(state.name)
        if count and (count.running or count.overdue):
            lines.append(f"● {count.running} running · {count.overdue} overdue")
        return lines

    def _layers(self) -> list[list[DiagramState]]:
        by_name = {s.name: s for s in self.d.states}
        depth = {self.d.initial: 0} if self.d.initial in by_name else {}
        queue = list(depth)
        while queue:
            current = queue.pop(0)
            for t in self.d.transitions:
                if t.source == current and t.dest in by_name and t.dest not in depth:
                    depth[t.dest] = depth[current] + 1
                    queue.append(t.dest)
        last = max(depth.values(), default=0)
        for s in self.d.states:  # unreachable ones (validate warns) go last
            depth.setdefault(s.name, last + 1)
        bottom = max(depth.values(), default=0) + 1
        for s in self.d.states:  # final states share the bottom row: the ways out, side by side
            if s.kind == "final":
                depth[s.name] = bottom
        layers: list[list[DiagramState]] = [[] for _ in range(max(depth.values(), default=0) + 1)]
        for s in self.d.states:
            layers[depth[s.name]].append(s)
        return [layer for layer in layers if layer]

    def render(self) -> str:
        layers = self._layers()
        widest = max((len(layer) for layer in layers), default=1)
        total_w = widest * (_BOX_W + _GAP_X) + 2 * _PAD + 120
        y = _PAD + 40.0
        for layer in layers:
            height = max(_PAD + _BOX_LINE * len(self._lines(s)) for s in layer)
            offset = (widest - len(layer)) * (_BOX_W + _GAP_X) / 2
            for j, s in enumerate(layer):
                x = _PAD + offset + j * (_BOX_W + _GAP_X)
                self.boxes[s.name] = (x, y, _BOX_W, _PAD + _BOX_LINE * len(self._lines(s)))
            y += height + _GAP_Y
        total_h = y + _BOX_LINE * len(self.d.timers) + _PAD
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w:.0f}" height="{total_h:.0f}" '
            f'viewBox="0 0 {total_w:.0f} {total_h:.0f}" font-family="sans-serif" font-size="12" '
            f'role="img" aria-label="{html.escape(self.d.workflow)} workflow">',
            "<defs><marker id='arrow' viewBox='0 0 10 10' refX='10' refY='5' markerWidth='7' "
            "markerHeight='7' orient='auto-start-reverse'><path d='M0,0 L10,5 L0,10 z' "
            "fill='#555'/></marker></defs>",
            f'<text x="{_PAD}" y="{_PAD + 6}" font-size="15" font-weight="bold">'
            f"{html.escape(self.d.title or self.d.workflow)} (v{self.d.version})</text>",
        ]
        for s in self.d.states:
            out.append(self._box(s))
        loops: dict[str, list[str]] = {}
        pairs: dict[tuple[str, str], list[str]] = {}
        for t in self.d.transitions:
            if t.source not in self.boxes or t.dest not in self.boxes:
                continue
            if t.source == t.dest:
                loops.setdefault(t.source, []).append(t.trigger)
            else:
                short = t.trigger + (f" [{t.when}]" if t.when else "")
                pairs.setdefault((t.source, t.dest), []).append(short)
        for (source, dest), labels in pairs.items():
            out.append(self._edge(source, dest, labels))
        for name, triggers in loops.items():
            x, y0, w, _h = self.boxes[name]
            out.append(
                f'<text x="{x + w - 8}" y="{y0 - 5}" text-anchor="end" fill="#666" {_HALO}>'
                f"↻ {html.escape(', '.join(dict.fromkeys(triggers)))}</text>"
            )
        ty = y + 4
        for text in self.d.timers:
            out.append(f'<text x="{_PAD}" y="{ty:.0f}" fill="#555">⏱ {html.escape(text)}</text>')
            ty += _BOX_LINE
        out.append("</svg>")
        return "\n".join(out) + "\n"

    def _box(self, s: DiagramState) -> str:
        x, y, w, h = self.boxes[s.name]
        initial = s.name == self.d.initial
        stroke = "#1a73e8" if initial else "#555"
        width = 2.5 if s.kind == "final" or initial else 1.2
        parts = [
            f'<g class="state {s.kind}" data-state="{html.escape(s.name)}">',
            f"<title>{html.escape(chr(10).join(self._lines(s)))}</title>",
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{w}" height="{h}" rx="10" '
            f'fill="{_COLORS[s.kind]}" stroke="{stroke}" stroke-width="{width}"/>',
        ]
        for i, line in enumerate(self._lines(s)):
            weight = ' font-weight="bold"' if i == 0 else ""
            short = line if len(line) <= 36 else line[:35] + "…"
            parts.append(
                f'<text x="{x + 10:.0f}" y="{y + 18 + i * _BOX_LINE:.0f}"{weight}>'
                f"{html.escape(short)}</text>"
            )
        parts.append("</g>")
        if self.link is not None:
            href = html.escape(self.link(s.name))
            return f'<a href="{href}" aria-label="{html.escape(s.name)}">{"".join(parts)}</a>'
        return "".join(parts)

    def _edge(self, source: str, dest: str, labels: list[str]) -> str:
        sx, sy, sw, sh = self.boxes[source]
        dx, dy, dw, dh = self.boxes[dest]
        text = " / ".join(dict.fromkeys(labels))
        short = text if len(text) <= 34 else text[:33] + "…"
        title = f"<title>{html.escape(source)} → {html.escape(dest)}: {html.escape(text)}</title>"
        right = max(x + w for x, _y, w, _h in self.boxes.values())
        next_row = dy > sy and not any(sy < by < dy for _x, by, _w, _h in self.boxes.values())
        if next_row:  # down to the next row: bottom centre to top centre
            x1, y1, x2, y2 = sx + sw / 2, sy + sh, dx + dw / 2, dy
            mx, my = (x1 + x2) / 2, (y1 + y2) / 2
            path = f"M{x1:.0f},{y1:.0f} L{x2:.0f},{y2:.0f}"
        else:  # further down, back up or sideways: around the right of the drawing
            x1, y1, x2, y2 = sx + sw, sy + sh / 2, dx + dw, dy + dh / 2
            bulge = right + 50
            mx, my = x1 + 40, y1 - 4
            path = (
                f"M{x1:.0f},{y1:.0f} C{bulge:.0f},{y1:.0f} {bulge:.0f},{y2:.0f} "
                f"{x2:.0f},{y2:.0f}"
            )
        return (
            f'<g class="transition">{title}<path d="{path}" fill="none" stroke="#555" '
            f'marker-end="url(#arrow)"/><text x="{mx:.0f}" y="{my:.0f}" text-anchor="middle" '
            f'fill="#333" {_HALO}>{html.escape(short)}</text></g>'
        )


def state_counts(engine: Any, workflow: str, now: datetime | None = None) -> dict[str, StateCount]:
    """Open instances of ``workflow`` per state, and those past their state's deadline."""
    moment = (now or engine.now()).astimezone(UTC).replace(tzinfo=None)
    running: dict[str, int] = {}
    overdue: dict[str, int] = {}
    for inst in engine.list(workflow=workflow):
        if inst.finished:
            continue
        states = [inst.state]
        regions = inst.as_json(history=False).get("regions") or {}
        states += [f"{inst.state}.{r}.{s}" for r, s in regions.items()]
        late = any(
            str(getattr(t, "name", "")).partition(":")[0] == "deadline"  # a region's too
            and _naive(t.due) < moment
            for t in inst.timers
        )
        for name in states:
            running[name] = running.get(name, 0) + 1
            if late:
                overdue[name] = overdue.get(name, 0) + 1
    return {n: StateCount(running[n], overdue.get(n, 0)) for n in running}


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
