"""The documentation keeps its promises: every hook, key and command is documented,
and the examples in the docs validate, run and print what the docs say."""

from __future__ import annotations

import importlib
import inspect
import json
import re
import shlex
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from crmflow import errors, hookspecs
from crmflow.cli import cli
from crmflow.core import factory as factory_module
from crmflow.core.engine import simulate as simulate_module
from crmflow.core.engine import validate as validate_module

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
OWN_DOCS = [
    README,
    *(DOCS / f"{name}.md" for name in (
        "concepts", "workflow-language", "hooks", "factory", "operations", "changelog",
    )),
]  # fmt: skip

HOOKS = sorted(
    name
    for name, func in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(func, "crmflow_spec")
)


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def all_docs_text() -> str:
    return "\n".join(read(p) for p in [README, *sorted(DOCS.glob("*.md"))])


@dataclass(frozen=True)
class Block:
    info: str
    title: str | None
    body: str


_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.M | re.S)


def blocks(text: str) -> list[Block]:
    found = []
    for match in _FENCE.finditer(text):
        info = match.group(1).strip()
        title = re.search(r'title="([^"]+)"', info)
        found.append(Block(info.split(" ")[0], title.group(1) if title else None, match.group(2)))
    return found


def block(path: Path, title: str) -> str:
    matches = [b.body for b in blocks(read(path)) if b.title == title]
    assert len(matches) == 1, f"{path.name} should have one code block titled {title!r}"
    return matches[0]


def section(text: str, heading_words: str) -> str:
    """The text under the `## ` heading containing ``heading_words``, up to the next one."""
    parts = re.split(r"^## ", text, flags=re.M)
    matches = [p for p in parts if heading_words in p.splitlines()[0]]
    assert len(matches) == 1, f"no single '## …{heading_words}…' section"
    return matches[0]


# -- hooks ------------------------------------------------------------------------------


def test_hookspecs_define_hooks() -> None:
    assert len(HOOKS) >= 10


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_in_hooks_md(hook: str) -> None:
    text = read(DOCS / "hooks.md")
    heading = re.search(rf"^#+ .*`{hook}`", text, re.M)
    signature = any(f"def {hook}(" in b.body for b in blocks(text) if b.info == "python")
    assert heading and signature, f"docs/hooks.md needs a heading and the signature of {hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_docstring_naming_its_arguments(hook: str) -> None:
    func = getattr(hookspecs, hook)
    doc = inspect.getdoc(func) or ""
    assert doc.strip(), f"{hook} has no docstring"
    for argument in inspect.signature(func).parameters:
        assert f":param {argument}:" in doc, f"{hook}'s docstring does not describe {argument}"


def test_hooks_md_documents_no_hook_that_does_not_exist() -> None:
    documented = re.findall(r"^### `([a-z_]+)`", read(DOCS / "hooks.md"), re.M)
    assert documented, "hooks are documented under ### `name` headings"
    assert sorted(documented) == HOOKS


# -- the workflow language --------------------------------------------------------------

KEY_SECTIONS = {
    "WORKFLOW_KEYS": "Top-level keys",
    "STATE_KEYS": "States",
    "TRANSITION_KEYS": "Transitions",
    "ACTION_KEYS": "Actions",
    "TIMER_KEYS": "Timers",
    "START_KEYS": "starting instances from events",
}
LANGUAGE_KEYS = [(group, key) for group in KEY_SECTIONS for key in getattr(validate_module, group)]


@pytest.mark.parametrize(("group", "key"), LANGUAGE_KEYS)
def test_every_workflow_key_is_documented_in_its_section(group: str, key: str) -> None:
    text = section(read(DOCS / "workflow-language.md"), KEY_SECTIONS[group])
    assert f"`{key}`" in text, f"{group} key {key!r} is missing from its section"


@pytest.mark.parametrize("key", simulate_module._STEP_KEYS)
def test_every_scenario_step_key_is_documented(key: str) -> None:
    text = section(read(DOCS / "workflow-language.md"), "Simulation scenarios")
    assert f"`{key}`" in text


@pytest.mark.parametrize("calendar", validate_module.CALENDARS)
def test_every_calendar_name_is_documented(calendar: str) -> None:
    assert f"calendar: {calendar}" in read(DOCS / "workflow-language.md")


def _workflow_blocks() -> Iterator[tuple[str, Block]]:
    for path in (README, DOCS / "workflow-language.md"):
        for found in blocks(read(path)):
            if (
                found.info == "yaml"
                and re.search(r"^workflow: ", found.body, re.M)
                and "mistakes" not in (found.title or "")
            ):
                yield path.name, found


WORKFLOW_EXAMPLES = list(_workflow_blocks())


@pytest.mark.parametrize(
    "example",
    [b for _, b in WORKFLOW_EXAMPLES],
    ids=[f"{n}:{b.title}" for n, b in WORKFLOW_EXAMPLES],
)
def test_workflow_examples_validate_without_problems(example: Block, tmp_path: Path) -> None:
    from crmflow.core.validation import validate_workflows

    file = tmp_path / Path(example.title or "example.yaml").name
    file.write_text(example.body, encoding="utf-8")
    problems, count = validate_workflows([file])
    assert count == 1
    assert [str(p) for p in problems] == []


def test_the_documented_validation_messages_are_what_validate_prints(
    runner: CliRunner, tmp_path: Path
) -> None:
    doc = DOCS / "workflow-language.md"
    (tmp_path / "order_change.yaml").write_text(
        block(doc, "order_change.yaml (with mistakes)"), encoding="utf-8"
    )
    result = runner.invoke(cli, ["validate", "order_change.yaml"])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == block(doc, "validate output").splitlines()


def test_the_documented_simulation_runs_as_shown(tmp_path: Path) -> None:
    doc = DOCS / "workflow-language.md"
    (tmp_path / "rush_order.yaml").write_text(block(doc, "rush_order.yaml"), encoding="utf-8")
    scenario = tmp_path / "scenarios" / "rush_late.yaml"
    scenario.parent.mkdir()
    scenario.write_text(block(doc, "scenarios/rush_late.yaml"), encoding="utf-8")

    report = simulate_module.simulate("rush_order", scenario, workflows=tmp_path)

    assert report.ok, report.failures
    assert report.as_text().splitlines() == block(doc, "simulate output").splitlines()


def test_the_documented_correlation_moves_the_waiting_instance(
    tmp_path: Path, crmflow_engine: Any
) -> None:
    doc = DOCS / "workflow-language.md"
    (tmp_path / "wf").mkdir()
    (tmp_path / "wf" / "order_change.yaml").write_text(block(doc, "order_change.yaml"))
    engine = crmflow_engine(workflows=tmp_path / "wf")
    console = section(read(doc), "events to waiting instances")
    emits = re.findall(r"^\$ crmflow emit (\S+) --data '([^']+)'\n(\d+)\s+# (\w+)", console, re.M)
    assert len(emits) == 3

    for event, data, iid, outcome in emits:
        result = engine.emit(event, json.loads(data))
        ids = result.started if outcome == "started" else result.moved
        assert ids == [int(iid)], (event, result)

    assert engine.get(1).state == "overtaken"


def test_show_json_example_has_the_real_shape(crmflow_engine: Any, tmp_path: Path) -> None:
    (tmp_path / "wf").mkdir()
    (tmp_path / "wf" / "rush_order.yaml").write_text(block(README, "workflows/rush_order.yaml"))
    engine = crmflow_engine(workflows=tmp_path / "wf")
    iid = engine.start("rush_order", {"order": {"order_id": "SO-1001"}}, actor="planner")
    engine.fire(iid, "accept", actor="planner")
    real = engine.get(iid).as_json()

    documented = json.loads(
        next(b.body for b in blocks(read(DOCS / "concepts.md")) if b.info == "json")
    )

    assert set(documented) == set(real)
    assert set(documented["history"][0]) == set(real["history"][0])
    assert set(documented["timers"][0]) == set(real["timers"][0])
    assert (documented["state"], documented["history"][-1]["trigger"]) == (real["state"], "accept")


# -- the example plugin of docs/hooks.md ------------------------------------------------


@pytest.fixture
def hello_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The crmflow-hello package of docs/hooks.md, written out and importable."""
    doc = DOCS / "hooks.md"
    root = tmp_path / "crmflow-hello"
    for name in (
        "pyproject.toml", "crmflow_hello.py", "workflows/welcome.yaml", "factory.yaml",
        "tests/test_hello.py",
    ):  # fmt: skip
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block(doc, name), encoding="utf-8")
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.syspath_prepend(str(root / "tests"))
    yield root
    for module in ("crmflow_hello", "test_hello"):
        sys.modules.pop(module, None)


def test_the_example_plugin_declares_its_entry_point(hello_package: Path) -> None:
    project = tomllib.loads(read(hello_package / "pyproject.toml"))["project"]
    assert project["entry-points"]["crmflow"] == {"hello": "crmflow_hello"}


def test_the_example_plugin_tests_pass_with_the_crmflow_fixtures(
    hello_package: Path, crmflow_engine: Any, crmflow_clock: Any
) -> None:
    doc_tests = importlib.import_module("test_hello")
    fixtures = {"crmflow_engine": crmflow_engine, "crmflow_clock": crmflow_clock}
    tests = [f for name, f in inspect.getmembers(doc_tests, inspect.isfunction)
             if name.startswith("test_")]  # fmt: skip
    assert len(tests) >= 3
    for test in tests:
        wanted = inspect.signature(test).parameters
        test(**{name: fixtures[name] for name in wanted})


def test_the_example_factory_enables_the_example_plugin_with_its_settings(
    hello_package: Path,
) -> None:
    names = {"hello", "notify", "functions", "sop", "forecast", "kpi"}
    config = factory_module.load_factory(hello_package / "factory.yaml", names)
    assert config.plugins is not None and "hello" in config.plugins
    assert config.plugin_settings("hello") == {"greeting": "Welcome"}


def test_the_example_plugin_registers_what_the_docs_say(hello_package: Path) -> None:
    from crmflow.core.registry import build_registry, enabled_plugins, get_plugin_manager

    module = importlib.import_module("crmflow_hello")
    pm = get_plugin_manager(load_entry_points=False, extra=(module,))
    registry = build_registry(pm, enabled_plugins(pm, None))

    assert registry.actions["hello.greet"].plugin == "crmflow_hello"
    assert registry.functions["shout"].obj("greet Ada") == "GREET ADA!"


# -- the factory config -----------------------------------------------------------------

FACTORY_KEYS = [
    (group, key)
    for group in ("FACTORY_KEYS", "DEPARTMENT_KEYS", "CALENDAR_KEYS")
    for key in getattr(factory_module, group)
]


@pytest.mark.parametrize(("group", "key"), FACTORY_KEYS)
def test_every_factory_key_is_documented(group: str, key: str) -> None:
    assert f"`{key}`" in read(DOCS / "factory.md"), f"{group} key {key!r} is not documented"


def test_the_factory_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "factories" / "plant_a.yaml"
    path.parent.mkdir()
    path.write_text(block(DOCS / "factory.md", "factories/plant_a.yaml"), encoding="utf-8")
    names = {"hello", "erp_sap", "notify", "functions", "sop", "forecast", "kpi"}

    config = factory_module.load_factory(path, names)

    assert config.name == "plant_a" and str(config.timezone) == "Europe/Berlin"
    assert config.settings["demand_tolerance"] == 0.1
    assert [d.id for d in config.departments] == ["sales_north", "planning"]
    assert config.users["carla"]["roles"] == ["planner", "supervisor"]


def test_the_documented_factory_error_is_what_loading_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = read(DOCS / "factory.md")
    documented = re.search(r"`(factories/plant_a\.yaml:\d+:\d+: error: [^`]+)`", doc)
    assert documented
    monkeypatch.chdir(tmp_path)
    path = Path("factories/plant_a.yaml")
    path.parent.mkdir()
    text = block(DOCS / "factory.md", "factories/plant_a.yaml").replace("  hello:", "  helo:")
    path.write_text(text, encoding="utf-8")
    names = {"hello", "erp_sap", "notify", "functions", "sop", "forecast", "kpi"}

    with pytest.raises(errors.ValidationError) as caught:
        factory_module.load_factory(path, names)

    assert [str(p) for p in caught.value.problems] == [documented.group(1)]


# -- the command line -------------------------------------------------------------------


def _cli_commands() -> list[str]:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    listing = result.output.split("Commands:", 1)[1]
    return [line.split()[0] for line in listing.splitlines() if line.startswith("  ")]


def test_every_command_of_crmflow_help_is_documented() -> None:
    commands = _cli_commands()
    text = all_docs_text()
    assert {"validate", "start", "fire", "show", "list", "emit", "tick", "simulate"} <= set(
        commands
    )
    missing = [c for c in commands if not re.search(rf"crmflow {re.escape(c)}\b", text)]
    assert missing == [], f"commands not in README.md or docs/: {missing}"


def test_readme_opens_with_make_run_and_make_test() -> None:
    head = "\n".join(read(README).splitlines()[:8])
    assert "make run" in head and "make test" in head


def test_readme_names_every_exit_code() -> None:
    codes = {cls.exit_code for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, errors.CrmflowError)}  # fmt: skip
    paragraph = next(p for p in read(README).split("\n\n") if "Exit codes:" in p)
    for code in sorted(codes | {0}):
        assert re.search(rf"\b{code} [a-z]", paragraph), f"exit code {code} is not explained"


@dataclass
class Step:
    argv: list[str]
    expected: list[str]
    exit_code: int | None


def _tour_steps() -> Iterator[Step]:
    """`$ crmflow …` commands of the README's console blocks and the output shown."""
    for found in blocks(read(README)):
        if found.info != "console":
            continue
        lines = found.body.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            i += 1
            if not line.startswith("$ "):
                continue
            command = line[2:]
            while command.endswith("\\"):
                command = command[:-1] + lines[i].strip()
                i += 1
            expected = []
            while i < len(lines) and not lines[i].startswith("$ "):
                expected.append(lines[i])
                i += 1
            exit_code = 0
            if '; echo "exit $?"' in command:
                command = command.replace('; echo "exit $?"', "")
                exit_code = int(expected.pop().split()[-1])
            argv = shlex.split(command, comments=True)
            yield Step(argv, expected, exit_code)


def test_the_readme_tour_runs_as_shown(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "workflows").mkdir()
    for name in ("workflows/rush_order.yaml", "scenario.yaml"):
        (tmp_path / name).write_text(block(README, name), encoding="utf-8")
    steps = list(_tour_steps())
    assert [s.argv[1] for s in steps if s.argv[0] == "crmflow"][:8] == [
        "validate", "start", "fire", "fire", "fire", "show", "show", "list",
    ]  # fmt: skip

    for step in steps:
        if step.argv[0] == "export":
            name, value = step.argv[1].split("=", 1)
            monkeypatch.setenv(name, value)
            continue
        assert step.argv[0] == "crmflow", step.argv
        result = runner.invoke(cli, step.argv[1:])
        assert result.exit_code == step.exit_code, (step.argv, result.output)
        shown = [line for line in step.expected if "…" not in line]
        if step.argv[1] == "plugins":
            # Names only: the columns depend on what else is installed.
            shown = [line.split()[0] for line in shown]
        output = result.output
        for line in shown:
            assert line in output, (step.argv, line, output)
            output = output.split(line, 1)[1]


# -- links, environment variables -------------------------------------------------------


def _slug(heading: str) -> str:
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = _FENCE.sub("", read(path))
    return {_slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}


@pytest.mark.parametrize("path", OWN_DOCS, ids=lambda p: p.name)
def test_relative_links_and_anchors_resolve(path: Path) -> None:
    if not path.exists():
        pytest.fail(f"{path.relative_to(ROOT)} is missing")
    text = _FENCE.sub("", read(path))
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        assert linked.exists(), f"{path.name} links to missing {target}"
        if anchor and linked.suffix == ".md":
            assert anchor in _anchors(linked), f"{path.name}: no heading for #{anchor}"


def test_every_environment_variable_is_documented() -> None:
    sources = [*ROOT.joinpath("crmflow").rglob("*.py"), ROOT / "tests" / "conftest.py"]
    names = set()
    for source in sources:
        names.update(re.findall(r"\bCRMFLOW_[A-Z][A-Z_]*[A-Z]\b", read(source)))
    text = all_docs_text()
    missing = sorted(n for n in names if n not in text)
    assert missing == [], f"environment variables not in README.md or docs/: {missing}"
