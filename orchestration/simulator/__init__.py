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

Sub-packages by job, imports running one way (serve -> oauth -> model; generate, truth -> model; all of
them -> the base modules), held by an import-linter contract:
- `serve/`: the HTTP API: `server` (`SimulatorServer`, `serve`), `app` (the Starlette app: auth, account
  selection, routes), `traffic` (latency, rate limits, faults, counters), `options` (`SimulatorOptions`);
- `oauth/`: Stripe's side of Connect and Stripe Apps OAuth: `provider` (grants, codes, tokens), `routes`
  (its HTTP endpoints), `pages` (its HTML), `options` (`OAuthOptions`);
- `generate/`: building an account over time: `generator` (`generate_account`), `world`, `catalog`
  (products, prices, coupons), `customers`, `story` (what happens to each customer), `patterns` (the named
  billing patterns), `payments`, `payouts`, `render` (facts -> API objects at a moment), `mutations`
  (`mutate_account`: changes after generation);
- `model/`: the account both sides use: `account` (`SimulatedAccount`, JSON dumps), `store` (list/retrieve
  engine, cached JSON), `listing` (each list endpoint's parameters), `expansion` (`expand[]`), `registry`
  (which key opens which account, which ones the platform reaches);
- `truth`: the expected MRR, computed from the generator's history of each subscription over time (never
  from warehouse tables);
- base modules: `templates` (Stripe's sample objects, the shape of everything, from `stripe_samples.json`),
  `records` (the facts, with their times), `errors` (Stripe's error bodies), `ids`, `timeline`, `currencies`.
"""

from orchestration.simulator.generate.generator import generate_account
from orchestration.simulator.generate.mutations import MutationSummary, mutate_account
from orchestration.simulator.model.account import SimulatedAccount, dump_account_to_dir, load_account_from_dir
from orchestration.simulator.oauth.options import OAuthOptions
from orchestration.simulator.serve.options import SimulatorOptions
from orchestration.simulator.serve.server import SimulatorServer, serve
from orchestration.simulator.serve.traffic import TrafficStats

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
