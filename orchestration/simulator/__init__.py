"""A Stripe API simulator: generated (or dumped) accounts served over HTTP like api.stripe.com.

It is the demo's data source and the test suite's Stripe: the ingester talks to it with the official
SDK exactly as it would to Stripe.

    account = generate_account(seed=42, customers=300)
    with SimulatorServer([account]) as server:        # key sk_test_simulator opens the account
        client = stripe.StripeClient("sk_test_simulator", base_addresses={"api": server.base_url})
        assert len(list(client.v1.customers.list().auto_paging_iter())) == account.expected_count("customers")

Modules, one job each:
- generation: `catalog` (products, prices, coupons), `story` (what happens to each customer), `payments`
  (charges, refunds, disputes, fees), `records` + `world` (the facts, with their times), `render` (facts →
  API objects at a moment), `generator` (`generate_account`), `account` (`SimulatedAccount`, JSON dumps);
- serving: `listing` (each list endpoint's parameters), `store` (list/retrieve/mutate engine), `errors`
  (Stripe's error bodies), `app` (Starlette app: auth, Connect, routes), `server` (uvicorn runners);
- shared: `templates` (Stripe's sample objects, the shape of everything), `ids`, `timeline`.
"""

from orchestration.simulator.account import SimulatedAccount, dump_account_to_dir, load_account_from_dir
from orchestration.simulator.generator import generate_account
from orchestration.simulator.server import SimulatorOptions, SimulatorServer, serve

__all__ = [
    "SimulatedAccount",
    "SimulatorOptions",
    "SimulatorServer",
    "dump_account_to_dir",
    "generate_account",
    "load_account_from_dir",
    "serve",
]
