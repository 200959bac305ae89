"""The dbt project handle: where the project, profiles and the prebuilt manifest live."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from orchestration.settings import PROJECT_ROOT, ConfigurationError

DBT_PROJECT = DbtProject(
    project_dir=PROJECT_ROOT,
    profiles_dir=PROJECT_ROOT,
    target_path=Path("dbt_project/target"),
)

# dbt lives beside the interpreter in the project's virtual environment, whether or not it is on PATH.
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")


def require_manifest() -> Path:
    """The manifest Dagster builds the dbt assets from; built ahead of time, never at import."""
    if not DBT_PROJECT.manifest_path.exists():
        raise ConfigurationError(
            f"The dbt manifest {DBT_PROJECT.manifest_path} is missing: run `stripe-warehouse prepare` "
            "(or `make prepare`) once after changing the dbt project."
        )
    return DBT_PROJECT.manifest_path


def build_manifest() -> Path:
    """Parses the dbt project into its manifest (no warehouse connection needed)."""
    subprocess.run(
        [DBT_EXECUTABLE, "parse", "--quiet", "--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT)],
        check=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "DBT_TARGET_PATH": str(PROJECT_ROOT / "dbt_project/target")},
    )
    return require_manifest()
