"""The Stripe side of Connect OAuth and Stripe Apps OAuth, as the simulator plays it.

Modules, one job each:
- `provider`: `OAuthProvider`, the state and rules (authorize requests, sign-in, codes, tokens, revocation);
- `routes`: its HTTP endpoints (the authorize pages, token and deauthorize endpoints);
- `pages`: its HTML (sign-in, authorization, error page);
- `options`: `OAuthOptions` (client ids, lifetimes of codes and tokens, redirect URIs).
"""
