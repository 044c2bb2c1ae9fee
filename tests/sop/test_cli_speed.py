"""A command loads only what it runs: --help imports no database or numeric library."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = """
import contextlib, io, json, sys
from crmflow.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "out": out.getvalue(),
                  "loaded": sorted(m for m in sys.modules if "." not in m)}))
"""


def _probe(*args: str, cwd: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          cwd=cwd, check=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_help_lists_every_command_without_loading_the_engine(tmp_path: Path) -> None:
    got = _probe("--help", cwd=tmp_path)
    assert got["code"] == 0
    for command in ("forecast", "forecast-run", "import", "kpi", "inventory", "customers",
                    "worker", "list"):  # fmt: skip
        assert f"  {command} " in got["out"]
    assert not {"sqlalchemy", "numpy", "alembic", "flask", "sqlmodel"} & set(got["loaded"])


def test_list_on_a_current_database_skips_alembic_and_numpy(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'l.sqlite3'}"
    assert _probe("migrate", "--db", db, cwd=tmp_path)["code"] == 0
    got = _probe("list", "--json", "--db", db, cwd=tmp_path)
    assert (got["code"], got["out"].strip()) == (0, "[]")
    assert not {"numpy", "alembic", "flask"} & set(got["loaded"])


def test_the_light_tables_name_what_the_modules_define() -> None:
    from crmflow.core.domain.imports import IMPORT_KINDS
    from crmflow.core.domain.kind_names import IMPORT_KIND_NAMES
    from crmflow.plugins.forecast import BUILTIN_MODEL_TABLE
    from crmflow.plugins.forecast.command import DEFAULT_TOP
    from crmflow.plugins.forecast.models import BUILTIN_MODELS
    from crmflow.plugins.forecast.registry import DEFAULT_TOP as TOP
    from crmflow.plugins.kpi.breakdown import DIMENSIONS
    from crmflow.plugins.kpi.cli import DIMENSIONS as CLI_DIMENSIONS
    from crmflow.plugins.sop.actions import ACTIONS
    from crmflow.plugins.sop.functions import FUNCTIONS
    from crmflow.plugins.sop.table import ACTION_TABLE, FUNCTION_TABLE

    assert IMPORT_KIND_NAMES == IMPORT_KINDS
    assert BUILTIN_MODEL_TABLE == {n: (d, o) for n, (_, d, o) in BUILTIN_MODELS.items()}
    assert (DEFAULT_TOP, CLI_DIMENSIONS) == (TOP, DIMENSIONS)
    assert {n: (f.__name__, d, o) for n, (f, d, o) in ACTIONS.items()} == ACTION_TABLE
    assert {n: (f.__name__, d) for n, (f, d) in FUNCTIONS.items()} == FUNCTION_TABLE


def test_the_schema_check_reads_the_heads_alembic_reads() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    import crmflow
    from crmflow.core.store import migration_heads

    migrations = Path(crmflow.__file__).parent / "migrations"
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    cfg.set_main_option("version_locations", str(migrations / "versions"))
    cfg.set_main_option("path_separator", "space")
    script = ScriptDirectory.from_config(cfg)
    # what `upgrade heads` leaves in alembic_version: a head another revision
    # `depends_on` is applied but not recorded as a head
    needed = {dep for rev in script.walk_revisions() for dep in (rev._resolved_dependencies or ())}
    assert migration_heads(()) == frozenset(script.get_heads()) - needed
