"""The connect settings: defaults, the platform key falling back to STRIPE_API_KEY, nothing secret in a repr."""

from pathlib import Path

from orchestration.settings import Settings


def test_defaults_point_at_stripe_and_the_data_folder():
    connect = Settings.from_env({"DATA_DIR": "/srv/data"}).connect
    assert (connect.connect_base, connect.marketplace_base) == (
        "https://connect.stripe.com",
        "https://marketplace.stripe.com",
    )
    assert connect.db_path == Path("/srv/data/connections.sqlite3")
    assert connect.key_path == Path("/srv/data/connections.key")
    assert connect.platform_key is None and connect.connect_client_id is None and connect.session_minutes == 480


def test_the_platform_key_defaults_to_stripe_api_key_and_the_app_key_to_the_platform_key():
    connect = Settings.from_env({"STRIPE_API_KEY": "sk_test_platform_123456"}).connect
    assert connect.platform_key.value == connect.app_secret_key.value == "sk_test_platform_123456"
    own = Settings.from_env(
        {"STRIPE_API_KEY": "rk_test_own_12345678", "STRIPE_PLATFORM_KEY": "sk_test_platform_123456"}
    ).connect
    assert own.platform_key.value == "sk_test_platform_123456"


def test_no_secret_shows_in_the_settings_repr():
    settings = Settings.from_env(
        {
            "STRIPE_PLATFORM_KEY": "sk_test_platformsecret_9876",
            "STRIPE_APP_SECRET_KEY": "sk_test_appsecretvalue_5432",
            "ADMIN_PASSWORD": "hunter2hunter2pw",
            "CONNECTIONS_SECRET_KEY": "fernetkeyvalue_abcdefghijklmnop",
        }
    )
    shown = repr(settings)
    for secret in ("platformsecret", "appsecretvalue", "hunter2", "2pw", "fernetkeyvalue", "mnop"):
        assert secret not in shown
    assert "sk_test_****9876" in shown  # Stripe keys show their kind and last four, as Stripe does
