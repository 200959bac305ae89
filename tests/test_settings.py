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
