"""Connect with Stripe: the accounts an admin connects, how their credentials are kept, and how syncs read them.

Modules, one job each:
- `store` (the SQLite file of connections, OAuth attempts and the admin's password hash) and `encryption`
  (the key that encrypts the stored secrets);
- `oauth` (the two OAuth clients: classic Connect and Stripe Apps), `restricted_key` (the test call that
  checks a pasted key, and an account's name), `flows` (connect, re-authenticate, disconnect: shared by the
  page and the command line), `local_flow` (`stripe-warehouse connect`'s callback catcher);
- `accounts` (what other code uses: the accounts to sync, with Stripe App tokens refreshed, and recording a
  sync's outcome);
- `auth` (admin login, sessions, CSRF) and `web` (the Starlette app and its templates);
- `cli` (the `connections`, `connect` and `web` subcommands).
"""
