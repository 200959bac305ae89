"""Schedules, their switch and the freshness they imply, from the environment."""

from datetime import timedelta

import pytest
from dagster import DefaultScheduleStatus, DefaultSensorStatus, FreshnessPolicy

from orchestration.automation.cadence import Automation
from orchestration.automation.freshness import sync_freshness_policy
from orchestration.settings import ConfigurationError


def test_hourly_sync_and_daily_reconciliation_by_default():
    automation = Automation.from_env({})
    assert automation.sync_cron == "0 * * * *"
    assert automation.reconcile_cron == "30 3 * * *"
    assert automation.sync_interval == timedelta(hours=1)
    assert automation.schedule_status == DefaultScheduleStatus.RUNNING
    assert automation.sensor_status == DefaultSensorStatus.RUNNING


def test_schedules_switch_off():
    automation = Automation.from_env({"STRIPE_SCHEDULES": "off"})
    assert automation.schedule_status == DefaultScheduleStatus.STOPPED
    assert automation.sensor_status == DefaultSensorStatus.STOPPED


@pytest.mark.parametrize(
    "env", [{"STRIPE_SCHEDULES": "sometimes"}, {"STRIPE_SYNC_CRON": "hourly please"}, {"STRIPE_RECONCILE_CRON": "* *"}]
)
def test_a_wrong_setting_names_the_variable(env):
    with pytest.raises(ConfigurationError, match=next(iter(env))):
        Automation.from_env(env)


def test_freshness_follows_the_sync_schedule():
    hourly = sync_freshness_policy(Automation.from_env({}))
    every_six_hours = sync_freshness_policy(Automation.from_env({"STRIPE_SYNC_CRON": "0 */6 * * *"}))
    assert isinstance(hourly, FreshnessPolicy)
    # Warn once a run is missed, fail once two are, with half an hour for the run itself.
    assert hourly.warn_window.to_timedelta() == timedelta(hours=1, minutes=30)
    assert hourly.fail_window.to_timedelta() == timedelta(hours=2, minutes=30)
    assert every_six_hours.fail_window.to_timedelta() == timedelta(hours=12, minutes=30)
