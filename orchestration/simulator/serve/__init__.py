"""Serving accounts over HTTP like api.stripe.com.

Modules, one job each:
- `server`: `SimulatorServer` (a background thread, for tests and the demo) and `serve` (the CLI's foreground run);
- `app`: the Starlette app: authentication, account selection, routes, Stripe's response conventions;
- `traffic`: what happens to a request before the data answers it (latency, rate limits, faults, counters);
- `options`: `SimulatorOptions`, how the server behaves beyond the data it serves.
"""
