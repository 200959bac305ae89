"""The dbt project: where the project, profiles and the prebuilt manifest live, and building the manifest.

Nothing here imports dbt or dagster-dbt at module level: the definitions load from the manifest alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from orchestration.settings import PROJECT_ROOT, ConfigurationError, Settings

if TYPE_CHECKING:
    from dagster_dbt import DbtProject

TARGET_PATH = Path("dbt_project/target")
MANIFEST_PATH = PROJECT_ROOT / TARGET_PATH / "manifest.json"
PARTIAL_PARSE = "partial_parse.msgpack"
# What `prepare` parses: a manifest older than any of these is stale.
DBT_SOURCES = ("dbt_project.yml", "profiles.yml", "dbt_project/models", "dbt_project/macros", "dbt_project/seeds",
               "dbt_project/snapshots", "dbt_project/tests")  # fmt: skip

# dbt lives beside the interpreter in the project's virtual environment, whether or not it is on PATH.
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")


def dbt_environment(settings: Settings) -> dict[str, str]:
    """What dbt reads from the environment that the settings decide, the same for `dbt parse` and every dbt
    step: the warehouse (profiles.yml's target), the DuckDB file profiles.yml names (dbt discards its partial
    parse when the profile differs and parses the whole project again, ~15 s a step), and where the prepared
    parse is (dagster-dbt copies it from DBT_TARGET_PATH into each step's own folder under it)."""
    environment = {
        "WAREHOUSE": settings.warehouse,  # profiles.yml's target
        "DUCKDB_PATH": str(settings.duckdb_path),
        "DBT_TARGET_PATH": str(settings.dbt_target_path or PROJECT_ROOT / TARGET_PATH),
    }
    if settings.warehouse == "postgres":  # profiles.yml's postgres output
        pg = settings.postgres
        environment |= {
            "POSTGRES_HOST": pg.host,
            "POSTGRES_PORT": str(pg.port),
            "POSTGRES_USER": pg.user,
            "POSTGRES_PASSWORD": pg.password.value,
            "POSTGRES_DB": pg.database,
        }
    return environment


def dbt_project() -> DbtProject:
    """dagster-dbt's handle on the project, for a run (importing dagster-dbt imports dbt-core)."""
    from dagster_dbt import DbtProject

    return DbtProject(project_dir=PROJECT_ROOT, profiles_dir=PROJECT_ROOT, target_path=TARGET_PATH)


def require_manifest() -> Path:
    """The manifest Dagster builds the dbt assets from; built ahead of time, never at import."""
    if not MANIFEST_PATH.exists():
        raise ConfigurationError(
            f"The dbt manifest {MANIFEST_PATH} is missing: run `stripe-warehouse prepare` "
            "(or `make prepare`) once after changing the dbt project."
        )
    return MANIFEST_PATH


def manifest_is_stale() -> bool:
    """True when the manifest is missing or older than a file of the dbt project."""
    if not MANIFEST_PATH.exists():
        return True
    built = MANIFEST_PATH.stat().st_mtime
    for name in DBT_SOURCES:
        path = PROJECT_ROOT / name
        files = [path] if path.is_file() else (p for p in path.rglob("*") if p.is_file())
        if any(f.stat().st_mtime > built for f in files):
            return True
    return False


def build_manifest() -> Path:
    """Parses the dbt project into its manifest (no warehouse connection needed).

    Parsed in a folder of its own, then moved into place in one step: a process loading the definitions
    meanwhile reads the old manifest or the new one, never half of one.
    """
    target = PROJECT_ROOT / TARGET_PATH
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target, prefix=".parse-") as parse_dir:
        if (target / PARTIAL_PARSE).exists():  # dbt re-parses only what changed since
            shutil.copy2(target / PARTIAL_PARSE, Path(parse_dir) / PARTIAL_PARSE)
        subprocess.run(
            [
                DBT_EXECUTABLE,
                "parse",
                "--quiet",
                "--project-dir",
                str(PROJECT_ROOT),
                "--profiles-dir",
                str(PROJECT_ROOT),
            ],
            check=True,
            cwd=PROJECT_ROOT,
            env={**os.environ, **dbt_environment(Settings.from_env()), "DBT_TARGET_PATH": parse_dir},
        )
        os.replace(Path(parse_dir) / PARTIAL_PARSE, target / PARTIAL_PARSE)
        os.replace(Path(parse_dir) / "manifest.json", MANIFEST_PATH)
    return require_manifest()
