"""The Dagster definitions the UI (workspace.yaml) and `stripe-warehouse run` load; assembled in
orchestration/orchestrate/definitions.py."""

from orchestration.orchestrate.automation import Automation
from orchestration.orchestrate.definitions import build_definitions
from orchestration.orchestrate.jobs import RECONCILE_JOB_NAME, SYNC_JOB_NAME

defs = build_definitions(Automation.from_env())

__all__ = ["RECONCILE_JOB_NAME", "SYNC_JOB_NAME", "defs"]
