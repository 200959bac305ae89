"""Running dbt against a test's own DuckDB file, in its own process, as Dagster does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from orchestration.settings import PROJECT_ROOT


def run_dbt(run_dir: Path, target: Path, *args: str, expect_success: bool = True) -> None:
    """Runs `dbt <args>` on run_dir/warehouse.duckdb; artifacts go to `target`.

    Its own process because dbt-duckdb keeps its connection open for the life of the process. The DuckDB
    path is relative to the working directory, so the profile is the same for every run and dbt's partial
    parsing applies. The manifest Dagster loads from dbt_project/target is never touched.
    """
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
    assert (completed.returncode == 0) == expect_success, completed.stdout[-5000:] + completed.stderr[-5000:]
