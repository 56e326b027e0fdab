"""Test helpers shared by the Vertex tests: a throwaway service account and a token endpoint
that checks the assertions it receives the way Google's does."""

from __future__ import annotations

import functools
import time
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from gateway_vertex.auth.keys import GOOGLE_TOKEN_URL

from gateway_core.contract.exchanges import ReceivedRequest
from gateway_core.testing import Exchange

CLIENT_EMAIL = "gateway@acme-prod.iam.gserviceaccount.com"
KEY_ID = "5d41a8c7e9b3f0264a1c8e7d3b2f9a0c6e5d4b31"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ACCESS_TOKEN = "ya29.c.test-access-token-7Qm2Vx9Lp4"


@functools.cache
def private_key() -> rsa.RSAPrivateKey:
    """An RSA key made for this test run only."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem() -> str:
    return (
        private_key()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


def pem_secret_line() -> str:
    """A line of the PEM body: it must never show up anywhere a client or the log can see."""
    return private_pem().splitlines()[5]


def service_account_info(token_uri: str = GOOGLE_TOKEN_URL) -> dict[str, Any]:
    return {
        "type": "service_account",
        "project_id": "acme-prod",
        "private_key_id": KEY_ID,
        "private_key": private_pem(),
        "client_email": CLIENT_EMAIL,
        "client_id": "104729355108873215546",
        "token_uri": token_uri,
    }


def service_account_json(token_uri: str = GOOGLE_TOKEN_URL) -> str:
    return orjson.dumps(service_account_info(token_uri)).decode()


def assertion_claims(received: ReceivedRequest) -> dict[str, Any]:
    """Verify a JWT-bearer token request as Google does and return the assertion's claims.

    The signature must verify with the service account's public key, the audience must be the
    URL the assertion was sent to, the scope cloud-platform, and the assertion valid now for
    at most an hour.
    """
    form = received.form()
    assert form.get("grant_type") == JWT_BEARER, f"grant_type {form.get('grant_type')!r}"
    assertion = form.get("assertion", "")
    audience = f"http://{received.headers['host']}{received.path}"
    try:
        claims = jwt.decode(
            assertion,
            private_key().public_key(),
            algorithms=["RS256"],
            audience=audience,
            options={"require": ["iss", "aud", "iat", "exp", "scope"]},
        )
    except jwt.PyJWTError as problem:
        raise AssertionError(f"the assertion does not verify: {problem}") from None
    assert jwt.get_unverified_header(assertion).get("kid") == KEY_ID, "kid is not the key's id"
    assert claims["iss"] == CLIENT_EMAIL, f"iss {claims['iss']!r}"
    assert claims["scope"] == CLOUD_PLATFORM, f"scope {claims['scope']!r}"
    assert 0 < claims["exp"] - claims["iat"] <= 3600, "valid for more than an hour"
    assert claims["iat"] <= time.time() + 5, "issued in the future"
    return claims


def verify_assertion(received: ReceivedRequest) -> None:
    assertion_claims(received)


def token_endpoint(path: str = "/token", **response: Any) -> Exchange:
    """A token endpoint that checks every assertion and hands out :data:`ACCESS_TOKEN`."""
    answer = response or {
        "json": {"access_token": ACCESS_TOKEN, "expires_in": 3599, "token_type": "Bearer"}
    }
    return Exchange.model_validate(
        {
            "request": {
                "method": "POST",
                "path": path,
                "headers": {"content-type": "application/x-www-form-urlencoded"},
                "check": verify_assertion,
            },
            "response": answer,
            "times": None,
        }
    )
