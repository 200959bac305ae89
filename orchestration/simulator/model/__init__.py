"""The simulated account and Stripe's semantics over it, shared by generation, truth and serving.

Modules, one job each:
- `account`: `SimulatedAccount` (an account's API objects, the generator's ground truth) and its JSON dumps;
- `store`: the list/retrieve engine, Stripe's list semantics over one account's objects (`put`, `delete`
  for changes while serving);
- `listing`: what each list endpoint accepts (filters, defaults) and the parsing of a query string;
- `expansion`: the expansions honoured (`expand[]`);
- `registry`: the served accounts: which key opens which, which ones the platform reaches, revocation.
"""
