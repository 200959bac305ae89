"""Freshness of the ingestion assets and the marts, derived from the sync schedule.

A run of the sync schedule refreshes both, so both expect one materialization per schedule interval: an
asset warns once a run has been missed and fails once two have, each with some grace for the run itself.
"""

from __future__ import annotations

from datetime import timedelta

from dagster import FreshnessPolicy

from orchestration.automation.cadence import Automation

# How long a scheduled run may take before its assets count as late: a full sync of a large account.
RUN_GRACE = timedelta(minutes=30)


def sync_freshness_policy(automation: Automation) -> FreshnessPolicy:
    interval = automation.sync_interval
    return FreshnessPolicy.time_window(fail_window=2 * interval + RUN_GRACE, warn_window=interval + RUN_GRACE)
