"""The Salesforce connector's settings, the backend section of its mappings, and how
Salesforce's failures become typed errors."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
import requests
from pydantic import ValidationError
from simple_salesforce.exceptions import (
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from connectors.base import Capability, NotFoundError, PermanentError, TransientError
from connectors.salesforce import SalesforceConnector
from connectors.salesforce.auth import JWT_BEARER, token_form
from connectors.salesforce.errors import connector_error
from connectors.salesforce.settings import SalesforceSettings
from connectors.testing.salesforce.server import signing_key
from gateway.mapping import load_mapping
from gateway.yamlfile import FileErrors

from salesforce_backend import mapping_variant, schema

AUTH = {"flow": "client_credentials", "client_id": "app", "client_secret": "s3cret"}


def test_settings_take_each_flow_and_keep_secrets_out_of_sight() -> None:
    settings = SalesforceSettings.model_validate(
        {"instance_url": "https://city.my.salesforce.com/", "auth": AUTH}
    )
    assert settings.token_url == "https://city.my.salesforce.com/services/oauth2/token"
    assert settings.verify is True and settings.threads == 8
    assert "s3cret" not in repr(settings)
    assert token_form(settings)["client_secret"] == "s3cret"
    password = {
        "flow": "password",
        "client_id": "app",
        "client_secret": "s",
        "username": "u@example.city",
        "password": "pw",
        "security_token": "tok",
    }
    form = token_form(
        SalesforceSettings.model_validate(
            {
                "instance_url": "https://x",
                "login_url": "https://login.salesforce.com",
                "auth": password,
            }
        )
    )
    assert (form["grant_type"], form["password"]) == ("password", "pwtok")


def test_a_jwt_assertion_names_the_login_host(tmp_path: Path) -> None:
    public = signing_key(tmp_path / "key.pem")
    auth = {
        "flow": "jwt_bearer",
        "client_id": "app",
        "username": "u@example.city",
        "private_key_file": str(tmp_path / "key.pem"),
    }
    settings = SalesforceSettings.model_validate(
        {"instance_url": "https://x", "login_url": "https://login.salesforce.com", "auth": auth}
    )
    form = token_form(settings)
    assert form["grant_type"] == JWT_BEARER
    claims = jwt.decode(
        form["assertion"], public, algorithms=["RS256"], audience="https://login.salesforce.com"
    )
    assert (claims["iss"], claims["sub"]) == ("app", "u@example.city")


@pytest.mark.parametrize(
    "changes",
    [
        {"instance_url": "http://city.my.salesforce.com"},
        {"auth": {**AUTH, "flow": "magic"}},
        {"auth": {"flow": "password", "client_id": "app"}},
        {"threads": 0},
        {"api_version": "v59"},
        {"colour": "red"},
    ],
)
def test_bad_settings_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SalesforceSettings.model_validate({"instance_url": "https://x", "auth": AUTH, **changes})


def test_capabilities_follow_the_backend_section() -> None:
    assert SalesforceConnector.capabilities_for(schema()) == frozenset(Capability)
    bare = {"external_id": "K__c", "fields": ["Id", "K__c", "CreatedDate"]}
    assert Capability.UPDATES not in SalesforceConnector.capabilities_for(bare)


def test_a_broken_backend_section_is_reported_with_its_place(tmp_path: Path) -> None:
    broken = mapping_variant(
        tmp_path / "broken.yaml",
        ("  external_id: Open311_Key__c", "  external_id: Open311 Key"),
        ("    time: CreatedDate\n", "    time: Created\n"),
        ("    picklist: Type", "    picklist: Type\n    colour: red"),
    )
    with pytest.raises(FileErrors) as caught:
        load_mapping(broken)
    messages = [message.split(": ", 1)[1] for message in caught.value.messages]
    assert messages == [
        "backend.external_id: String should match pattern '^[A-Za-z][A-Za-z0-9_]*$'",
        "backend.services.colour: unknown key 'colour'",
        "backend.updates: time 'Created' must be one of the fields",
    ]
    assert all(message.startswith(f"{broken}:") for message in caught.value.messages)


def response_error(kind: type, status: int, code: str, message: str) -> Exception:
    content = [{"errorCode": code, "message": message, "fields": ["Subject"]}]
    return kind("https://x/services/data", status, "Case", content)


@pytest.mark.parametrize(
    ("error", "typed", "reason"),
    [
        (
            response_error(SalesforceRefusedRequest, 403, "REQUEST_LIMIT_EXCEEDED", "Limit"),
            TransientError,
            "Salesforce is unavailable (403): REQUEST_LIMIT_EXCEEDED: Limit (fields: Subject)",
        ),
        (
            response_error(SalesforceGeneralError, 503, "SERVER_UNAVAILABLE", "Down"),
            TransientError,
            "Salesforce is unavailable (503): SERVER_UNAVAILABLE: Down (fields: Subject)",
        ),
        (
            response_error(SalesforceResourceNotFound, 404, "NOT_FOUND", "Gone"),
            NotFoundError,
            "Salesforce has no such record: NOT_FOUND: Gone (fields: Subject)",
        ),
        (
            response_error(
                SalesforceMalformedRequest,
                400,
                "INVALID_EMAIL_ADDRESS",
                "Email: invalid email address: ada@example.org",
            ),
            PermanentError,
            "Salesforce refused the request: INVALID_EMAIL_ADDRESS: Email: invalid email "
            "address: [email] (fields: Subject)",
        ),
        (
            response_error(SalesforceRefusedRequest, 403, "INSUFFICIENT_ACCESS", "No"),
            PermanentError,
            "Salesforce refused the request: INSUFFICIENT_ACCESS: No (fields: Subject)",
        ),
        (requests.ReadTimeout(), TransientError, "Salesforce did not answer within the timeout"),
        (
            requests.exceptions.SSLError(),
            TransientError,
            "Salesforce could not be reached or read (SSLError)",
        ),
    ],
)
def test_failures_are_typed(error: Exception, typed: type, reason: str) -> None:
    converted = connector_error(error)
    assert type(converted) is typed
    assert converted.reason == reason


def test_long_reasons_are_bounded() -> None:
    error = response_error(SalesforceMalformedRequest, 400, "X", "y" * 2000)
    assert len(connector_error(error).reason) < 600
