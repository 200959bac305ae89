"""Running dbt against a test's own DuckDB file, in its own process, as Dagster does."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from orchestration.settings import PROJECT_ROOT

PARTIAL_PARSE = "partial_parse.msgpack"
# The parse dbt saved after a run with given command-line vars (None: no --vars), kept under a name of its own so
# that a later run in the same target folder, with other vars, does not overwrite it. A full parse of the project
# costs about 10 CPU-s more than a partial one, and each test's run has a target folder of its own.
_parses: dict[str | None, Path] = {}


def _cli_vars(args: tuple[str, ...]) -> str | None:
    return args[args.index("--vars") + 1] if "--vars" in args else None


def run_dbt(run_dir: Path, target: Path, *args: str, expect_success: bool = True) -> None:
    """Runs `dbt <args>` on run_dir/warehouse.duckdb; artifacts go to `target`.

    Its own process because dbt-duckdb keeps its connection open for the life of the process. The DuckDB
    path is relative to the working directory, so the profile is the same for every run and dbt's partial
    parsing applies: a run whose target folder has no parse yet starts from the last one made with the same
    vars. dbt checks the parse's vars, profile, project and files itself and parses in full on any difference,
    so a stale copy costs time, never a wrong result. The manifest Dagster loads from dbt_project/target is
    never touched.
    """
    cli_vars = _cli_vars(args)
    saved = _parses.get(cli_vars)
    if saved is not None and saved.exists():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(saved, target / PARTIAL_PARSE)
    started = time.time()
    completed = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            *args,
            "--project-dir",
            str(PROJECT_ROOT),
            "--profiles-dir",
            str(PROJECT_ROOT),
            "--target-path",
            str(target),
            "--log-path",
            str(target / "logs"),
        ],
        env={**os.environ, "DBT_TARGET": "duckdb", "DUCKDB_PATH": "warehouse.duckdb"},
        cwd=run_dir,
        capture_output=True,
        text=True,
    )
    parse = target / PARTIAL_PARSE
    # Only a parse this run wrote: one that failed before writing leaves another run's in place.
    if parse.exists() and parse.stat().st_mtime >= started:
        key = hashlib.sha256(repr(cli_vars).encode()).hexdigest()[:16]
        _parses[cli_vars] = shutil.copy(parse, target / f"partial_parse.{key}.msgpack")
    assert (completed.returncode == 0) == expect_success, completed.stdout[-5000:] + completed.stderr[-5000:]
