"""The connect subcommands of `stripe-warehouse`: `connections list|add-key|remove|rotate-key`, `connect` and
`web`. What Stripe or the store says (business names, notes, errors) is printed through `printable`."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from orchestration.connect.display import printable, utc_minute
from orchestration.settings import ConfigurationError, Secret, Settings


def register_connect_commands(commands: Any) -> None:
    """Adds the subcommands to the `stripe-warehouse` parser's subparsers."""
    connections = commands.add_parser("connections", help="list, add (restricted key) or remove connected accounts")
    actions = connections.add_subparsers(required=True, metavar="ACTION")
    actions.add_parser("list", help="the connected accounts and their status").set_defaults(handler=_list)
    add_key = actions.add_parser("add-key", help="connect an account with a restricted key (prompted, or on stdin)")
    add_key.add_argument("--account", help="the connected account whose key this replaces (refused if another's)")
    add_key.set_defaults(handler=_add_key)
    remove = actions.add_parser("remove", help="disconnect an account (its data stays in the warehouse)")
    remove.add_argument("account_id")
    remove.set_defaults(handler=_remove)
    rotate = actions.add_parser(
        "rotate-key",
        help="re-encrypt the stored secrets with a new key (written to the key file, or printed to set in "
        "CONNECTIONS_SECRET_KEY)",
    )
    rotate.add_argument(
        "--forget-unreadable",
        action="store_true",
        help="drop the secrets that cannot be decrypted (a lost key) and mark their accounts for re-authentication",
    )
    rotate.set_defaults(handler=_rotate_key)

    connect = commands.add_parser("connect", help="connect an account through Stripe in the browser")
    connect.add_argument("--app", action="store_true", help="install the Stripe App instead of Connect OAuth")
    connect.add_argument(
        "--port",
        type=int,
        default=8765,
        help="local port for Stripe's redirect, http://127.0.0.1:PORT/callback, which must be a registered "
        "redirect URI (default: 8765)",
    )
    connect.add_argument("--no-browser", action="store_true", help="print the link instead of opening it")
    connect.set_defaults(handler=_connect)

    web = commands.add_parser("web", help="serve the admin web app (the Connections page)")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=8000)
    web.add_argument("--set-password", action="store_true", help="set the admin password (prompted), then exit")
    web.add_argument(
        "--unlock", action="store_true", help="forget the failed logins that slow the admin's logins down, then exit"
    )
    web.set_defaults(handler=_web)


def _settings() -> Settings:
    return Settings.from_env()


def _list(_args: argparse.Namespace) -> int:
    from orchestration.connect.store import ConnectionStore

    connections = ConnectionStore(_settings().connect).connections()
    if not connections:
        print("No Stripe account is connected: stripe-warehouse web, connect, or connections add-key.")
        return 0
    print(f"{'account':<24} {'mode':<5} {'connected with':<15} {'last sync':<20} {'status':<24} business name")
    for c in connections:
        last_sync = utc_minute(c.last_synced_at, "never")
        mode = "live" if c.livemode else "test"
        print(
            f"{printable(c.account_id):<24} {mode:<5} {c.method.label:<15} {last_sync:<20} {c.status.value:<24} "
            f"{printable(c.business_name)}".rstrip()
        )
        if c.status_reason:
            print(f"{'':<24} {printable(c.status_reason)}")
    return 0


def _add_key(args: argparse.Namespace) -> int:
    from orchestration.connect.flows import ConnectError, Connector
    from orchestration.connect.restricted_key import key_warning
    from orchestration.connect.store import ConnectionStore

    settings = _settings()
    ConnectionStore(settings.connect).check_key()  # the key will be encrypted: a bad master key stops us first
    # Never an argument: it would stay in the shell's history and show in `ps`.
    key = Secret((getpass.getpass("Restricted key: ") if sys.stdin.isatty() else sys.stdin.readline()).strip())
    try:
        connection = Connector(settings).add_key(key, args.account)
    except ConnectError as exc:
        print(f"error: {printable(exc)}", file=sys.stderr)
        return 1
    if warning := key_warning(key):
        print(f"warning: {warning}", file=sys.stderr)
    print(printable(f"Connected {connection.account_id} {connection.business_name}".rstrip()))
    return 0


def _remove(args: argparse.Namespace) -> int:
    from orchestration.connect.flows import ConnectError, Connector

    try:
        print(printable(Connector(_settings()).disconnect(args.account_id)))
    except ConnectError as exc:
        print(f"error: {printable(exc)}", file=sys.stderr)
        return 1
    return 0


def _rotate_key(args: argparse.Namespace) -> int:
    from orchestration.connect.store import ConnectionStore

    settings = _settings()
    rotation = ConnectionStore(settings.connect).rotate_key(forget_unreadable=args.forget_unreadable)
    if rotation.forgotten:
        accounts = ", ".join(map(printable, rotation.forgotten))
        print(
            f"Dropped the stored secrets that could not be decrypted, of {accounts}: they need re-authentication "
            "(stripe-warehouse web → Re-authenticate, or `stripe-warehouse connections "
            "add-key --account ID` for a key)."
        )
    done = f"Re-encrypted {rotation.resealed} stored secret{'' if rotation.resealed == 1 else 's'} with a new key"
    if rotation.new_key is None:
        print(
            f"{done}, now in {settings.connect.key_path}; the old key is gone. Back the new key file up with the "
            "database: running syncs and the web app read it from there."
        )
        return 0
    # The one place the key is shown: never logged, and only because the environment is where it must go.
    print(
        f"{done}. Set CONNECTIONS_SECRET_KEY to it wherever the old key is set (the web app, syncs, the daemon) and "
        "restart them: until then they cannot read the stored credentials. It is shown only this once:"
    )
    print(f"CONNECTIONS_SECRET_KEY={rotation.new_key.value}")
    return 0


def _connect(args: argparse.Namespace) -> int:
    from orchestration.connect.flows import ConnectError, Connector
    from orchestration.connect.local_flow import connect_locally
    from orchestration.connect.store import ConnectionStore, Method

    settings = _settings()
    method = Method.STRIPE_APP if args.app else Method.CONNECT_OAUTH
    if method is Method.STRIPE_APP:  # its tokens will be encrypted: a bad master key stops us before Stripe
        ConnectionStore(settings.connect).check_key()
    connector = Connector(settings)
    try:
        connection = connect_locally(connector, method, port=args.port, open_browser=not args.no_browser)
    except ConnectError as exc:
        print(f"error: {printable(exc)}", file=sys.stderr)
        return 1
    print(printable(f"Successfully connected {connection.account_id} {connection.business_name}".rstrip()))
    return 0


def _web(args: argparse.Namespace) -> int:
    settings = _settings()
    if args.set_password:
        return _set_password(settings)
    if args.unlock:
        return _unlock(settings)
    import uvicorn

    from orchestration.connect.store import ConnectionStore
    from orchestration.connect.web.app import LOOPBACK_HOSTS, create_app, hide_query_strings_in_access_log

    base_url = settings.connect.admin_base_url
    if base_url is None and args.host not in LOOPBACK_HOSTS:
        raise ConfigurationError(
            f"--host {args.host}: the page is then reached from elsewhere, which must be through a TLS proxy; set "
            "ADMIN_BASE_URL to the address it is reached at (https://admin.example.com)."
        )
    base_url = base_url or f"http://127.0.0.1:{args.port}"
    no_admin = ConnectionStore(settings.connect).admin_password_hash(settings.connect.admin_username) is None
    if no_admin and settings.connect.admin_password is None and sys.stdin.isatty():
        print("First run: choose the admin's password for the web app.")
        _set_password(settings)
    secure = _cookie_secure(args.host)
    app = create_app(settings, cookie_secure=secure, base_url=base_url)
    hide_query_strings_in_access_log()
    if not secure:
        print(
            "The session cookie may travel over plain HTTP (ADMIN_COOKIE_SECURE=false): use 127.0.0.1 only, or a "
            "TLS proxy on this machine that sends X-Forwarded-Proto: https."
        )
    print(f"Connections page on {base_url}/connections")
    # X-Forwarded-Proto and X-Forwarded-For are believed from a proxy on this machine only, whatever uvicorn's
    # FORWARDED_ALLOW_IPS says.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="info",
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1,::1",
    )
    return 0


def _unlock(settings: Settings) -> int:
    from orchestration.connect.auth import LoginThrottle

    forgotten = LoginThrottle(settings.connect).clear()
    print(f"Unlocked the admin login: forgot {forgotten} failed-login count(s); logins are no longer slowed down.")
    return 0


def _set_password(settings: Settings) -> int:
    from orchestration.connect.auth import set_admin_password
    from orchestration.connect.store import ConnectionStore

    password = getpass.getpass(f"New password for the admin '{settings.connect.admin_username}': ")
    if password != getpass.getpass("Again: "):
        raise ConfigurationError("The two passwords differ; nothing was changed.")
    set_admin_password(ConnectionStore(settings.connect), settings.connect.admin_username, Secret(password))
    print("Admin password set.")
    return 0


def _cookie_secure(host: str) -> bool:
    """ADMIN_COOKIE_SECURE, else on unless the page is served on the loopback interface only: anywhere else it
    is reached through an HTTPS proxy, and the cookie must never cross the network in clear."""
    value = os.environ.get("ADMIN_COOKIE_SECURE", "").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    if value:
        raise ConfigurationError(f"ADMIN_COOKIE_SECURE={value!r}: set it to true or false.")
    return host not in ("127.0.0.1", "localhost", "::1")
