"""The HTML pages of the OAuth flows: sign-in, authorization, and the error page.

Plain server-rendered forms, no JavaScript, so a browser test (or `requests`) can drive them:
- sign-in: a form posting `authorization` (hidden), `email` and `password` to `<authorize path>/sign-in`,
  submitted by the "Sign in" button;
- authorization: a form posting `authorization` (hidden) and `account` (a select when the user has several
  accounts, hidden otherwise) to `<authorize path>/decision`, with two submit buttons named `decision`:
  "Authorize access" (`allow`) and "Deny" (`deny`);
- error: what Stripe shows instead of sending the user back when the link itself is wrong.
Every value is HTML-escaped by Jinja's autoescaping.
"""

from __future__ import annotations

from jinja2 import DictLoader, Environment, select_autoescape
from starlette.responses import HTMLResponse

from orchestration.simulator.oauth.provider import AuthorizationRequest, Flow

_BASE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}{% endblock %}</title>
<style>
  body { font-family: system-ui, sans-serif; background: #f6f9fc; color: #30313d; margin: 0; }
  main { max-width: 26rem; margin: 4rem auto; background: #fff; padding: 2rem; border-radius: 8px;
         box-shadow: 0 2px 8px rgba(0, 0, 0, .08); }
  .brand { color: #635bff; font-weight: 700; letter-spacing: .02em; }
  label { display: block; margin: 1rem 0 .25rem; font-weight: 600; }
  input, select { width: 100%; box-sizing: border-box; padding: .5rem; font-size: 1rem; }
  button { margin-top: 1.25rem; padding: .6rem 1rem; font-size: 1rem; border-radius: 6px; border: 1px solid #ccc; }
  button.primary { background: #635bff; color: #fff; border-color: #635bff; }
  .error { color: #df1b41; }
  .hint { color: #6a7383; font-size: .875rem; }
</style>
</head>
<body><main>
<p class="brand">stripe</p>
{% block content %}{% endblock %}
</main></body>
</html>
"""

_SIGN_IN = """{% extends "base" %}
{% block title %}{{ heading }} | Stripe{% endblock %}
{% block content %}
<h1>{{ heading }}</h1>
<p>Sign in to your Stripe account to {{ purpose }}.</p>
{% if error %}<p class="error" role="alert">{{ error }}</p>{% endif %}
<form method="post" action="{{ action }}">
  <input type="hidden" name="authorization" value="{{ request.id }}">
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username" value="{{ email }}" required>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <button class="primary" type="submit">Sign in</button>
</form>
<p class="hint">Simulator: sign in with the email of a simulated account and any password:
{{ emails | join(", ") }}.</p>
{% endblock %}
"""

_AUTHORIZE = """{% extends "base" %}
{% block title %}{{ heading }} | Stripe{% endblock %}
{% block content %}
<h1>{{ heading }}</h1>
<p>{{ client }} is asking to {{ access }}.</p>
<form method="post" action="{{ action }}">
  <input type="hidden" name="authorization" value="{{ request.id }}">
  {% if accounts | length > 1 %}
  <label for="account">Account</label>
  <select id="account" name="account">
    {% for id, name in accounts %}<option value="{{ id }}">{{ name }} ({{ id }})</option>{% endfor %}
  </select>
  {% else %}
  <input type="hidden" name="account" value="{{ accounts[0][0] }}">
  <p>Account: <strong>{{ accounts[0][1] }}</strong> ({{ accounts[0][0] }})</p>
  {% endif %}
  <button class="primary" type="submit" name="decision" value="allow">Authorize access</button>
  <button type="submit" name="decision" value="deny">Deny</button>
</form>
{% endblock %}
"""

_ERROR = """{% extends "base" %}
{% block title %}Error | Stripe{% endblock %}
{% block content %}
<h1>Something went wrong</h1>
<p class="error" role="alert">
  <code id="error">{{ error }}</code>: <span id="error-description">{{ description }}</span>
</p>
<p>Return to the application you came from and try again.</p>
{% endblock %}
"""

_TEMPLATES = Environment(
    loader=DictLoader({"base": _BASE, "sign_in": _SIGN_IN, "authorize": _AUTHORIZE, "error": _ERROR}),
    autoescape=select_autoescape(default=True, default_for_string=True),
)

_SCOPE_ACCESS = {
    "read_only": "connect to your Stripe account and view its data",
    "read_write": "connect to your Stripe account, view its data and make changes to it",
    "stripe_apps": "be installed on your Stripe account and read its data",
}


def _heading(flow: Flow, client: str) -> str:
    return f"Connect to {client}" if flow is Flow.CONNECT else f"Install {client}"


def sign_in_page(
    request: AuthorizationRequest,
    client: str,
    action: str,
    emails: list[str],
    error: str | None = None,
    email: str = "",
    status: int = 200,
) -> HTMLResponse:
    purpose = f"connect it to {client}" if request.flow is Flow.CONNECT else f"install {client}"
    html = _TEMPLATES.get_template("sign_in").render(
        heading=_heading(request.flow, client),
        purpose=purpose,
        request=request,
        action=action,
        emails=emails,
        error=error,
        email=email,
    )
    return HTMLResponse(html, status_code=status)


def authorize_page(
    request: AuthorizationRequest, client: str, action: str, accounts: list[tuple[str, str]]
) -> HTMLResponse:
    html = _TEMPLATES.get_template("authorize").render(
        heading=_heading(request.flow, client),
        client=client,
        access=_SCOPE_ACCESS[request.scope],
        request=request,
        action=action,
        accounts=accounts,
    )
    return HTMLResponse(html)


def error_page(error: str, description: str, status: int = 400) -> HTMLResponse:
    return HTMLResponse(
        _TEMPLATES.get_template("error").render(error=error, description=description), status_code=status
    )
