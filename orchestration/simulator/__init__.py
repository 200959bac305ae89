"""A Stripe API simulator: generated (or dumped) accounts served over HTTP like api.stripe.com.

It is the demo's data source and the test suite's Stripe: the ingester talks to it with the official
SDK exactly as it would to Stripe.

    account = generate_account(seed=42, customers=300)
    with SimulatorServer([account]) as server:        # key sk_test_simulator opens the account
        client = stripe.StripeClient("sk_test_simulator", base_addresses={"api": server.base_url})
        assert len(list(client.v1.customers.list().auto_paging_iter())) == account.expected_count("customers")

Between two syncs, `mutate_account(account, seed=1, changes=50)` makes the account live on: sign-ups,
cancellations, payments, refunds, deletions, each with its event. While serving, `SimulatorServer` can
add latency, rate-limit, fail or drop requests, revoke an account's access, and count requests. It also
plays Stripe's side of Connect OAuth and Stripe Apps OAuth (sign-in and consent pages, codes, tokens).

Modules, one job each:
- generation: `catalog` (products, prices, coupons), `story` (what happens to each customer), `payments`
  (charges, refunds, disputes, fees), `payouts` (daily payouts), `customers` (sign-ups, invoice numbers),
  `patterns` (the named billing patterns), `truth` (the expected MRR), `records` + `world` (the facts, with
  their times), `render` (facts → API objects at a moment), `generator` (`generate_account`), `account`
  (`SimulatedAccount`, JSON dumps), `mutations` (`mutate_account`: changes after generation);
- serving: `listing` (each list endpoint's parameters), `expansion` (`expand[]`), `store`
  (list/retrieve/mutate engine, cached JSON), `errors` (Stripe's error bodies), `options`
  (`SimulatorOptions`, `OAuthOptions`), `traffic` (latency, rate limits, faults, counters), `app`
  (Starlette app: auth, Connect, routes), `oauth` (OAuth grants, codes and tokens), `oauth_routes` (its
  HTTP endpoints), `oauth_pages` (its HTML), `server` (uvicorn runners);
- shared: `templates` (Stripe's sample objects, the shape of everything), `ids`, `timeline`.
"""

from orchestration.simulator.account import SimulatedAccount, dump_account_to_dir, load_account_from_dir
from orchestration.simulator.generator import generate_account
from orchestration.simulator.mutations import MutationSummary, mutate_account
from orchestration.simulator.server import OAuthOptions, SimulatorOptions, SimulatorServer, TrafficStats, serve

__all__ = [
    "MutationSummary",
    "OAuthOptions",
    "SimulatedAccount",
    "SimulatorOptions",
    "SimulatorServer",
    "TrafficStats",
    "dump_account_to_dir",
    "generate_account",
    "load_account_from_dir",
    "mutate_account",
    "serve",
]
