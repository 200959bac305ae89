"""The `stripe-warehouse` command: run the pipeline, serve the simulator, open the Dagster UI."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from orchestration.connect.accounts import require_accounts
from orchestration.connect.cli import register_connect_commands
from orchestration.settings import PROJECT_ROOT, ConfigurationError, Settings
from orchestration.warehouse.access import WarehouseLockedError

DEMO_API_KEY = "sk_test_simulator"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    # Dagster prints run events itself; Python logging shows only this project's progress lines.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("orchestration").setLevel(logging.INFO)
    try:
        return args.handler(args)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stripe-warehouse", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="ingest every configured account, then build and test the models")
    run.set_defaults(handler=_run)

    demo = commands.add_parser("demo", help="run the whole pipeline against a generated simulator account")
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--customers", type=int, default=300)
    demo.set_defaults(handler=_demo)

    simulate = commands.add_parser("simulate", help="serve the Stripe API simulator")
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--port", type=int, default=12111)
    simulate.add_argument("--seed", type=int, default=42)
    simulate.add_argument("--customers", type=int, default=300)
    simulate.add_argument("--data-dir", type=Path, help="serve JSON dumps (one file per object) instead")
    simulate.add_argument("--api-key", default=DEMO_API_KEY, help="the secret key clients must send")
    faults = simulate.add_argument_group("faults", "fractions of requests that fail (see SimulatorOptions)")
    for name, effect in (
        ("rate-limit-rate", "answered Stripe's 429 rate_limit"),
        ("fault-rate", "answered Stripe's 500 api_error"),
        ("drop-rate", "closed without an answer"),
        ("truncate-rate", "cut off in the middle of their body"),
        ("slow-rate", "answered 2 s late"),
    ):
        faults.add_argument(f"--{name}", type=float, default=0.0, metavar="FRACTION", help=effect)
    faults.add_argument("--fault-seed", type=int, default=0, help="which requests fail: same seed, same ones")
    simulate.set_defaults(handler=_simulate)

    ui = commands.add_parser("ui", help="start the Dagster UI on this project")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument("--host", default="127.0.0.1")
    ui.set_defaults(handler=_ui)

    prepare = commands.add_parser("prepare", help="build the dbt manifest the Dagster definitions load")
    prepare.set_defaults(handler=lambda _args: _prepare(force=True))
    register_connect_commands(commands)
    return parser


def _run(_args: argparse.Namespace, settings: Settings | None = None) -> int:
    """Ingests and builds with `settings`; None: those of the environment."""
    settings = _prepare_folders(settings or Settings.from_env())
    require_accounts(settings)
    _prepare(force=False)

    # Imported late: loading the definitions needs the manifest built above.
    from dagster import DagsterInstance

    from orchestration.automation.concurrency import apply_pool_limits
    from orchestration.automation.once import run_problems, sync_every_account
    from orchestration.automation.stale_runs import WarehouseBusyError, reap_dead_runs, wait_for_the_warehouse
    from orchestration.definitions import defs
    from orchestration.ingest.client import StripeReadError

    # The instance of the settings' Dagster home, the one `ui` shows (DAGSTER_HOME, or one in the data folder).
    with DagsterInstance.from_config(str(settings.dagster_home_path)) as instance:
        apply_pool_limits(instance, settings)
        for line in reap_dead_runs(instance):
            print(f"stripe-warehouse run: {line}")
        try:
            wait_for_the_warehouse(
                instance, settings.warehouse_wait_seconds, lambda line: print(f"stripe-warehouse run: {line}")
            )
            result = sync_every_account(defs, instance, settings)
        except (StripeReadError, WarehouseBusyError) as exc:
            print(f"stripe-warehouse run failed: {exc}", file=sys.stderr)
            return 1
    problems = run_problems(result)
    if problems:
        print("stripe-warehouse run failed:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    try:
        _print_tables(settings)
    except WarehouseLockedError as exc:
        # The run is done and its data in place; only the summary could not be read.
        print(f"stripe-warehouse run: completed, but its summary could not be read: {exc}", file=sys.stderr)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from orchestration.simulator import SimulatorServer, generate_account

    account = generate_account(seed=args.seed, customers=args.customers)
    with SimulatorServer([account], api_keys={DEMO_API_KEY: account.account_id}) as server:
        print(f"Stripe simulator at {server.base_url}, account {account.account_id}")
        # The environment's settings, reading the simulator's one account; the run is handed them (not the
        # environment, which stays as it was).
        env = {name: value for name, value in os.environ.items() if name != "STRIPE_ACCOUNT_IDS"}
        env |= {"STRIPE_API_BASE": server.base_url, "STRIPE_API_KEY": DEMO_API_KEY}
        return _run(args, Settings.from_env(env))


def _simulate(args: argparse.Namespace) -> int:
    from orchestration.simulator import SimulatorOptions, generate_account, load_account_from_dir, serve

    try:
        options = SimulatorOptions(
            rate_limit_rate=args.rate_limit_rate,
            fault_rate=args.fault_rate,
            drop_rate=args.drop_rate,
            truncate_rate=args.truncate_rate,
            slow_rate=args.slow_rate,
            fault_seed=args.fault_seed,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.data_dir:
        account = load_account_from_dir(args.data_dir)
    else:
        account = generate_account(seed=args.seed, customers=args.customers)
    print(f"Serving account {account.account_id} on http://{args.host}:{args.port} (key {args.api_key})")
    serve(
        host=args.host, port=args.port, accounts=[account], api_keys={args.api_key: account.account_id}, options=options
    )
    return 0


def _ui(args: argparse.Namespace) -> int:
    settings = _prepare_folders(Settings.from_env())
    _prepare(force=False)
    from dagster import DagsterInstance

    from orchestration.automation.concurrency import apply_pool_limits

    # The ingestion pool's limit, which the daemon of `dagster dev` enforces, follows STRIPE_SYNC_PARALLELISM.
    with DagsterInstance.from_config(str(settings.dagster_home_path)) as instance:
        apply_pool_limits(instance, settings)
    dagster = Path(sys.executable).parent / "dagster"
    command = [str(dagster), "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", args.host, "-p", str(args.port)]
    # `dagster dev` starts in the project and reads the settings again (each run does): the paths relative to
    # here are given to it absolute, and Dagster finds its home only in DAGSTER_HOME.
    environment = {
        **os.environ,
        "DATA_DIR": str(settings.data_dir),
        "DUCKDB_PATH": str(settings.duckdb_path),
        "DAGSTER_HOME": str(settings.dagster_home_path),
    }
    os.chdir(PROJECT_ROOT)
    os.execve(command[0], command, environment)


def _prepare(force: bool) -> int:
    from orchestration.transform.project import build_manifest, manifest_is_stale

    # A manifest older than the dbt project would lack its new models: rebuilt, as `prepare` would.
    if force or manifest_is_stale():
        print(f"Built {build_manifest()}")
    return 0


def _prepare_folders(settings: Settings) -> Settings:
    """Makes the data folder and the Dagster home, with the instance's settings in it."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    dagster_home = settings.dagster_home_path
    dagster_home.mkdir(parents=True, exist_ok=True)
    # Log levels, and the warehouse's one-writer rule or Postgres's parallel runs (automation/concurrency.py).
    from orchestration.automation.concurrency import parallelism_notice, write_instance_config

    write_instance_config(dagster_home, settings)
    notice = parallelism_notice(settings)
    if notice:
        print(f"stripe-warehouse: {notice}", file=sys.stderr)
    return settings


def _print_tables(settings: Settings) -> None:
    from orchestration.warehouse.access import table_row_counts

    target = settings.duckdb_path if settings.warehouse == "duckdb" else f"postgres {settings.postgres.host}"
    print(f"\nBuilt in {target}:")
    for schema, table, rows in table_row_counts(settings):
        print(f"  {schema + '.' + table:<40} {rows:>10,} rows")


if __name__ == "__main__":
    sys.exit(main())
