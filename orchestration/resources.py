"""The settings as the Dagster resource `settings`, which every asset, check and the accounts sensor receive.

By default (the definitions, so the UI and the daemon) it reads the environment at the start of each run and
each sensor tick, as `Settings.from_env()` did in each of them: a changed key or warehouse needs no reload.
`stripe-warehouse run` and `demo` run the job in their own process with the Settings they built instead
(`settings_resources`), so `demo` hands the simulator's address and key to the run without the environment.

Neither carries anything in Dagster's config: run config and the config schema of a job's resources are
stored in Dagster's database and shown in the UI, and the settings hold API keys and the Postgres password.
The default has no config field, and the CLI's resource is the Settings object itself (a Python value,
which Dagster never serializes).
"""

from __future__ import annotations

from dagster import ConfigurableResource, InitResourceContext, ResourceDefinition

from orchestration.settings import Settings

SETTINGS_RESOURCE_KEY = "settings"


class SettingsFromEnvironment(ConfigurableResource[Settings]):
    """`Settings.from_env()`, read when a run (or sensor tick) starts. No config field, so no secret in
    Dagster's run config or job snapshots."""

    def create_resource(self, context: InitResourceContext) -> Settings:
        return Settings.from_env()


def default_resources() -> dict[str, SettingsFromEnvironment]:
    """The resources of the definitions: the settings read from each run's environment."""
    return {SETTINGS_RESOURCE_KEY: SettingsFromEnvironment()}


def settings_resources(settings: Settings) -> dict[str, ResourceDefinition]:
    """The resources of a run in this process with these very settings (e.g. the demo's simulator and key)."""
    return {SETTINGS_RESOURCE_KEY: ResourceDefinition.hardcoded_resource(settings)}
