"""Getting an access token: the OAuth 2.0 flows, requested by the connector itself.

simple-salesforce's login helpers only know `https://{domain}.salesforce.com`, so the
connector posts to the token endpoint of its own settings and builds the library's
client from the token (`Salesforce(instance_url=..., session_id=...)`). Runs on a
worker thread: it blocks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt
import requests

from connectors.base import TransientError
from connectors.salesforce.errors import safe_text
from connectors.salesforce.settings import (
    ClientCredentialsFlow,
    JwtBearerFlow,
    PasswordFlow,
    SalesforceSettings,
)

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_SECONDS = 180
"""A JWT assertion's lifetime: Salesforce accepts at most a few minutes."""


@dataclass(frozen=True, slots=True)
class Token:
    access_token: str
    instance_url: str


def token_form(settings: SalesforceSettings) -> dict[str, str]:
    """The token request's form for the configured flow."""
    flow = settings.auth
    if isinstance(flow, ClientCredentialsFlow):
        return {
            "grant_type": "client_credentials",
            "client_id": flow.client_id,
            "client_secret": flow.client_secret.get_secret_value(),
        }
    if isinstance(flow, PasswordFlow):
        password = flow.password.get_secret_value() + flow.security_token.get_secret_value()
        return {
            "grant_type": "password",
            "client_id": flow.client_id,
            "client_secret": flow.client_secret.get_secret_value(),
            "username": flow.username,
            "password": password,
        }
    return {"grant_type": JWT_BEARER, "assertion": _assertion(flow, settings)}


def _assertion(flow: JwtBearerFlow, settings: SalesforceSettings) -> str:
    claims = {
        "iss": flow.client_id,
        "sub": flow.username,
        "aud": flow.audience or settings.login_url or settings.instance_url,
        "exp": int(time.time()) + ASSERTION_SECONDS,
    }
    try:
        key = flow.private_key_file.read_bytes()
    except OSError as exc:
        raise TransientError(f"the JWT signing key cannot be read: {exc.strerror}") from None
    return jwt.encode(claims, key, algorithm="RS256")


def request_token(settings: SalesforceSettings, session: requests.Session) -> Token:
    """A fresh access token; TransientError when Salesforce refuses or cannot be reached
    (refused credentials are the configuration's to fix: requests wait, not die)."""
    response = session.post(settings.token_url, data=token_form(settings))
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        error = body.get("error", "") if isinstance(body, dict) else ""
        detail = body.get("error_description", "") if isinstance(body, dict) else ""
        raise TransientError(
            f"Salesforce refused the gateway's credentials ({response.status_code}): "
            f"{safe_text(f'{error}: {detail}')}"
        )
    instance_url = str(body.get("instance_url") or settings.instance_url)
    if not instance_url.startswith("https://"):
        raise TransientError("Salesforce's token names an instance that is not https://")
    return Token(str(body["access_token"]), instance_url)
