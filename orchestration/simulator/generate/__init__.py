"""Building an account over time: the facts of what happened to each customer, then the API objects.

Modules, one job each:
- `generator`: `generate_account`, a deterministic, internally consistent account of any size;
- `world`: the shared state of one generation (randomness, clock, catalog, the records so far);
- `catalog`: products, prices (and their plan twins), coupons;
- `customers`: who signs up (`new_customer`) and the books closed once a customer's story is told;
- `story`: what happens to one customer over the years (subscriptions, invoices, payments);
- `patterns`: the named billing patterns, scripted customer stories every account can include;
- `payments`: collecting invoices by card (payment intents, charges, fees, refunds, disputes);
- `payouts`: the daily automatic payouts;
- `render`: API objects rendered from the records, as they are at a given moment;
- `mutations`: `mutate_account`, changes after generation (sign-ups, cancellations, payments, deletions),
  each with its event.
"""
