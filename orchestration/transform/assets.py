"""The dbt assets: every model, seed and snapshot, with every dbt test as an asset check.

The specs come from the prebuilt manifest (orchestration/transform/translator.py). A run invokes dbt through
dagster-dbt's runner, then reports each node from dbt's run_results.json: a built model is a
materialization, a test a check result.

The tests of the sources check the ingestion assets: they run in a step of their own (`dbt test`) right
after the ingestion, so they also run when only an ingestion asset is materialized, and a failing one
holds back no model (the `dbt build` of the models leaves them out).
"""

import importlib.metadata
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    Failure,
    FreshnessPolicy,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    get_dagster_logger,
    multi_asset,
    multi_asset_check,
)
from packaging import version

from orchestration.settings import PROJECT_ROOT, Settings
from orchestration.transform.mrr_report import mrr_metadata
from orchestration.transform.project import DBT_EXECUTABLE, PARTIAL_PARSE, dbt_environment, require_manifest
from orchestration.transform.translator import BUILT_TYPES, DbtSpecs, dbt_specs
from orchestration.warehouse.access import describe_warehouse_fault, lock_holder, wait_for_duckdb_file
from orchestration.warehouse.table_metadata import table_metadata

if TYPE_CHECKING:
    from dagster_dbt import DbtCliInvocation

log = logging.getLogger(__name__)

DBT_OP_NAME = "stripe_dbt"
SOURCE_TESTS_OP_NAME = "stripe_dbt_source_tests"
MRR_MONTHLY = AssetKey(["analytics", "mrr_monthly"])
EVERY_SOURCE = "source:*"


def build_stripe_dbt_assets(*, pool: str, freshness_policy: FreshnessPolicy | None, warehouse: str) -> list[Any]:
    """The dbt build over every account (unpartitioned: the models read all accounts' rows at once), and
    the tests of its sources."""
    manifest = json.loads(require_manifest().read_text())
    specs = dbt_specs(manifest, warehouse, freshness_policy)

    @multi_asset(
        name=DBT_OP_NAME,
        specs=specs.assets,
        check_specs=specs.checks,
        can_subset=True,
        pool=pool,
        description="dbt build of the selected models, seeds, snapshots and their tests.",
    )
    def stripe_dbt_assets(context: AssetExecutionContext, settings: ResourceParam[Settings]) -> Iterator[Any]:
        every = context.selected_asset_keys >= {s.key for s in specs.assets} and context.selected_asset_check_keys >= {
            s.key for s in specs.checks
        }
        selection = (
            ["--exclude", EVERY_SOURCE]
            if every
            else _only(context.selected_asset_keys, context.selected_asset_check_keys, manifest, specs)
        )
        # dbt's unit tests check the models' logic on fixed inputs, not the data: CI runs them
        # (tests/transform), a production build would only pay for them.
        yield from _run_dbt(
            context, settings, "build", [*selection, "--exclude-resource-type", "unit_test"], manifest, specs
        )

    @multi_asset_check(
        name=SOURCE_TESTS_OP_NAME,
        specs=specs.source_checks,
        can_subset=True,
        pool=pool,
        description="dbt test of the raw tables the ingestion loads (the tests of the dbt sources).",
    )
    def stripe_dbt_source_tests(
        context: AssetCheckExecutionContext, settings: ResourceParam[Settings]
    ) -> Iterator[Any]:
        every = context.selected_asset_check_keys >= {s.key for s in specs.source_checks}
        selection = (
            ["--select", EVERY_SOURCE] if every else _only(set(), context.selected_asset_check_keys, manifest, specs)
        )
        yield from _run_dbt(context, settings, "test", selection, manifest, specs)

    return [stripe_dbt_assets, stripe_dbt_source_tests]


def _only(assets, checks, manifest: Mapping[str, Any], specs: DbtSpecs) -> list[str]:
    """Exactly these nodes and tests: no indirect selection, so an unselected check never runs."""
    unique_ids = [u for u, key in specs.asset_keys.items() if key in assets and u.split(".")[0] in BUILT_TYPES]
    unique_ids += [u for u, check in specs.check_keys.items() if check in checks]
    names = " ".join(".".join(manifest["nodes"][u]["fqn"]) for u in unique_ids)
    return ["--select", names, "--indirect-selection", "empty"]


def _run_dbt(
    context: AssetExecutionContext | AssetCheckExecutionContext,
    settings: Settings,
    command: str,
    selection: list[str],
    manifest: Mapping[str, Any],
    specs: DbtSpecs,
) -> Iterator[Any]:
    selected_assets = context.selected_asset_keys if isinstance(context, AssetExecutionContext) else set()
    selected_checks = context.selected_asset_check_keys
    # `build` runs models, seeds, snapshots and tests in DAG order: a failing test skips only the models
    # downstream of what it tests, so the other marts still build. A test failure is a failed check, not a
    # failed step, so what comes after (the data-lag check) still runs.
    invocation = _invoke_dbt([command, *selection], manifest, settings)
    results = invocation.get_artifact("run_results.json")["results"]

    built = {
        specs.asset_keys[r["unique_id"]]: r
        for r in results
        if r["status"] == "success"
        and r["unique_id"].split(".")[0] in BUILT_TYPES
        and specs.asset_keys.get(r["unique_id"]) in selected_assets
    }
    # dbt has exited: DuckDB's file lock is free, the tables are read in one connection.
    tables = table_metadata(settings, built) if built else {}
    if MRR_MONTHLY in built:
        tables.setdefault(MRR_MONTHLY, {}).update(mrr_metadata(settings))

    for result in results:
        key = specs.asset_keys.get(result["unique_id"])
        if key in built and built[key] is result:
            yield MaterializeResult(asset_key=key, metadata={**_run_metadata(result), **tables.get(key, {})})
        check = specs.check_keys.get(result["unique_id"])
        if check is not None and check in selected_checks and result["status"] in ("pass", "warn", "fail", "error"):
            yield _check_result(check, result)

    errors = [r for r in results if r["status"] == "error" and r["unique_id"].split(".")[0] in BUILT_TYPES]
    if errors:
        # A full disk or a file taken by another process fails many nodes alike: said once, first.
        fault = describe_warehouse_fault(r.get("message") or "" for r in errors)
        raise Failure(
            description=(f"{fault}\n" if fault else "")
            + f"dbt {command}: {len(errors)} node(s) failed.\n"
            + "\n".join(f"- {r['unique_id']}: {(r.get('message') or '').strip()}" for r in errors)
        )


def _invoke_dbt(args: list[str], manifest: Mapping[str, Any], settings: Settings) -> "DbtCliInvocation":
    """dbt, once no other process holds the DuckDB file, and again if one took it before dbt opened it,
    within DUCKDB_LOCK_WAIT_SECONDS; the invocation, which has written its run_results.json.

    dbt-duckdb keeps the file open for the whole invocation (`keep_open` in profiles.yml): once dbt has it, no
    other process can take it half way through the build. dbt that cannot open it stops before building
    anything, so running it again is safe."""
    deadline = time.monotonic() + settings.duckdb_lock_wait_seconds
    while True:
        wait_for_duckdb_file(settings, deadline)
        invocation = _start_dbt(args, manifest, settings)
        invocation.wait()
        if invocation.target_path.joinpath("run_results.json").exists():
            return invocation
        # dbt stopped before running anything: no run_results.json, only its error.
        error = str(invocation.get_error() or "dbt stopped without running anything")
        holder = lock_holder(error)
        if holder is None or time.monotonic() >= deadline:
            fault = describe_warehouse_fault([error])
            raise Failure(description=f"{fault}\n{error}" if fault else error)
        log.warning("dbt found the warehouse held by another program, %s: it runs again once it is free.", holder)


def _start_dbt(args: list[str], manifest: Mapping[str, Any], settings: Settings) -> "DbtCliInvocation":
    """dbt started as dagster-dbt's `DbtCliResource.cli` starts it, in a folder of its own under the prepared
    parse, with the environment the settings decide (`dbt_environment`) given to dbt alone.

    `DbtCliResource.cli` (dagster-dbt 0.29) hands dbt a copy of os.environ and takes no environment of its own:
    the settings would have to be written into this process's environment, where every later run in the
    process would read them too. So dbt is started through dagster-dbt's `DbtCliInvocation` directly, with
    the variables `cli` sets; dagster-dbt's handle on the warehouse (for streamed column metadata) is not
    needed, as the results are read from run_results.json."""
    from dagster_dbt import DagsterDbtTranslator, DbtCliInvocation

    environment = dbt_environment(settings)
    prepared = Path(environment["DBT_TARGET_PATH"])
    target_path = prepared / f"{args[0]}-{uuid.uuid4().hex[:7]}"
    # The parse `prepare` made with the same profile: dbt re-parses nothing (a whole parse is ~15 s a step).
    target_path.mkdir(parents=True)
    if (prepared / PARTIAL_PARSE).exists():
        # Said as dagster-dbt says it: the step's last line before dbt starts.
        get_dagster_logger().info(
            f"Copying `{prepared / PARTIAL_PARSE}` to `{target_path / PARTIAL_PARSE}` to take advantage of partial"
            " parsing."
        )
        shutil.copy(prepared / PARTIAL_PARSE, target_path / PARTIAL_PARSE)
    return DbtCliInvocation.run(
        args=[DBT_EXECUTABLE, *args],
        env={
            **os.environ,
            **environment,
            # What `DbtCliResource.cli` sets: structured logs (read by get_error), and this step's own folders.
            "DAGSTER_DBT_CLI": "true",
            "PYTHONUNBUFFERED": "1",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_LOG_FORMAT": "json",
            "DBT_TARGET_PATH": str(target_path),
            "DBT_LOG_PATH": str(target_path),
            "DBT_PROFILES_DIR": str(PROJECT_ROOT),
            "DBT_PROJECT_DIR": str(PROJECT_ROOT),
        },
        manifest=manifest,
        dagster_dbt_translator=DagsterDbtTranslator(),
        project_dir=PROJECT_ROOT,
        target_path=target_path,
        raise_on_error=False,
        context=None,
        adapter=None,
        cli_version=version.parse(importlib.metadata.version("dbt-core")),
    )


def _check_result(check: AssetCheckKey, result: Mapping[str, Any]) -> AssetCheckResult:
    status = result["status"]
    return AssetCheckResult(
        asset_key=check.asset_key,
        check_name=check.name,
        passed=status == "pass",
        severity=AssetCheckSeverity.WARN if status == "warn" else AssetCheckSeverity.ERROR,
        metadata={**_run_metadata(result), "status": status, "failed_row_count": result.get("failures") or 0},
        description=None if status == "pass" else (result.get("message") or status),
    )


def _run_metadata(result: Mapping[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"execution_duration": MetadataValue.float(round(result.get("execution_time") or 0, 3))}
    rows = (result.get("adapter_response") or {}).get("rows_affected")
    if isinstance(rows, int) and rows >= 0:
        metadata["rows_affected"] = MetadataValue.int(rows)
    return metadata
