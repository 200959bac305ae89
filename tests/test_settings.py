import pytest

from orchestration.settings import ConfigurationError, Secret, Settings


def test_secret_never_shows_its_value():
    secret = Secret("sk_test_51abcdefghijklmnopqrstuvwxyz1234")
    for shown in (str(secret), repr(secret), f"{secret}", secret.masked()):
        assert "abcdefghijklmnop" not in shown
        assert shown.endswith("1234") or shown.endswith("1234)")
    assert secret.masked() == "sk_test_****1234"


def test_single_key_configuration():
    settings = Settings.from_env({"STRIPE_API_KEY": "sk_test_abc123456789", "STRIPE_API_BASE": "http://x:1/"})
    (credential,) = settings.require_credentials()
    assert credential.api_key.value == "sk_test_abc123456789"
    assert credential.stripe_account is None
    assert settings.stripe_api_base == "http://x:1"


def test_platform_key_reads_each_connected_account():
    settings = Settings.from_env({"STRIPE_API_KEY": "sk_test_platform123", "STRIPE_ACCOUNT_IDS": "acct_1, acct_2"})
    assert [c.stripe_account for c in settings.require_credentials()] == ["acct_1", "acct_2"]


def test_missing_key_names_the_variable():
    with pytest.raises(ConfigurationError, match="STRIPE_API_KEY"):
        Settings.from_env({}).require_credentials()


def test_publishable_key_is_refused_with_the_fix():
    with pytest.raises(ConfigurationError, match="secret key"):
        Settings.from_env({"STRIPE_API_KEY": "pk_test_123"})


def test_unknown_warehouse_is_refused():
    with pytest.raises(ConfigurationError, match="WAREHOUSE"):
        Settings.from_env({"WAREHOUSE": "oracle"})


def test_dbt_follows_the_warehouse_and_an_older_dbt_target_naming_another_is_refused():
    from orchestration.transform.project import dbt_environment

    assert dbt_environment(Settings.from_env({"WAREHOUSE": " Postgres"}))["WAREHOUSE"] == "postgres"
    assert Settings.from_env({"WAREHOUSE": "postgres", "DBT_TARGET": "postgres"}).warehouse == "postgres"
    with pytest.raises(ConfigurationError, match=r"DBT_TARGET='duckdb' but WAREHOUSE='postgres'.*Unset DBT_TARGET"):
        Settings.from_env({"WAREHOUSE": "postgres", "DBT_TARGET": "duckdb"})


def test_postgres_settings_are_typed_and_the_password_masks_itself():
    from orchestration.settings import PostgresSettings

    defaults = Settings.from_env({}).postgres
    assert defaults == PostgresSettings("localhost", 5432, "postgres", Secret(""), "stripe_warehouse")
    pg = Settings.from_env({"POSTGRES_PORT": "6543", "POSTGRES_PASSWORD": "hunter2-very-secret"}).postgres
    assert pg.port == 6543
    assert pg.password.value == "hunter2-very-secret"
    assert "hunter2" not in repr(pg) and "hunter2" not in str(pg)
    with pytest.raises(ConfigurationError, match="POSTGRES_PORT"):
        Settings.from_env({"POSTGRES_PORT": "fifty"})


def test_dagster_home_follows_the_data_folder_unless_set(tmp_path):
    assert Settings.from_env({"DATA_DIR": str(tmp_path)}).dagster_home_path == tmp_path / "dagster_home"
    home = tmp_path / "elsewhere"
    assert Settings.from_env({"DATA_DIR": str(tmp_path), "DAGSTER_HOME": str(home)}).dagster_home_path == home


def test_a_run_given_settings_stores_none_of_them(tmp_path):
    """The CLI hands its run the Settings object: no key reaches the run's record or its job snapshot."""
    from dagster import DagsterInstance, Definitions, ResourceParam, asset
    from dagster._serdes import serialize_value

    from orchestration.resources import default_resources, settings_resources

    seen = []

    @asset
    def reads_settings(settings: ResourceParam[Settings]) -> None:
        seen.append(settings.stripe_api_base)

    job = Definitions(assets=[reads_settings], resources=default_resources()).resolve_implicit_global_asset_job_def()
    key = "sk_test_never_stored_0123456789"
    settings = Settings.from_env({"STRIPE_API_BASE": "http://simulator:1", "STRIPE_API_KEY": key})
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        result = job.execute_in_process(instance=instance, resources=settings_resources(settings))
        run = instance.get_run_by_id(result.run_id)
        assert run is not None
        stored = serialize_value(run) + serialize_value(instance.get_job_snapshot(run.job_snapshot_id))
    assert seen == ["http://simulator:1"]
    assert key not in stored and "simulator:1" not in stored
