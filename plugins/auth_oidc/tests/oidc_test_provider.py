"""A small OpenID provider for the tests, built from authlib's server-side grants.

It serves discovery, JWKS, ``/authorize`` and ``/token`` on a loopback port from a thread, signs
ID tokens with an RSA key generated for the run, and checks PKCE and the client secret like a
real provider. There is no login page: ``/authorize`` signs in whoever the test named with
:meth:`LoopbackProvider.sign_in_as`. A test makes the provider misbehave (a wrong nonce, a foreign
audience, an unsigned token) to prove that the gateway notices.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Request, grants
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload, JsonRequest
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from joserfc.jwk import KeySet, RSAKey

KEY_ID = "test-key-1"
CODE_LIFETIME = 120


@dataclass
class ProviderUser:
    sub: str
    email: str

    def get_user_id(self) -> str:
        return self.sub


@dataclass
class RegisteredClient:
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: ProviderUser
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    issued_at: float = field(default_factory=time.time)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return int(self.issued_at)

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None

    def is_expired(self) -> bool:
        return time.time() - self.issued_at > CODE_LIFETIME


class PlainRequest(OAuth2Request):
    """An OAuth2Request from what http.server parsed."""

    def __init__(self, method: str, uri: str, headers: Any, query: dict, form: dict) -> None:
        super().__init__(method, uri, headers=headers)
        self._query, self._form = query, form
        self.payload = BasicOAuth2Payload({**query, **form})

    @property
    def args(self) -> dict:
        return self._query

    @property
    def form(self) -> dict:
        return self._form


class LoopbackProvider:
    """The provider's state and knobs; :meth:`start` serves it on 127.0.0.1."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": KEY_ID, "use": "sig"})
        self.clients: dict[str, RegisteredClient] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.user: ProviderUser | None = None
        #: Claims forced into the next ID tokens (``{"nonce": "x"}``, ``{"aud": "other"}``...).
        self.claim_overrides: dict[str, Any] = {}
        #: Replaces the ID token of the token response (to send an unsigned one, say).
        self.id_token_transform: Callable[[str], str] | None = None
        self.server = self._authorization_server()
        self.http: ThreadingHTTPServer | None = None
        self.issuer = ""

    # -- what tests call ----------------------------------------------------------------------

    def register_client(self, redirect_uri: str) -> RegisteredClient:
        client = RegisteredClient(secrets.token_hex(8), secrets.token_urlsafe(24), [redirect_uri])
        self.clients[client.client_id] = client
        return client

    def sign_in_as(self, email: str) -> None:
        self.user = ProviderUser(sub="sub-" + email, email=email)

    def reset(self) -> None:
        self.claim_overrides = {}
        self.id_token_transform = None

    def start(self) -> LoopbackProvider:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider._handle(self, "GET")

            def do_POST(self) -> None:
                provider._handle(self, "POST")

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()

    # -- authlib wiring -------------------------------------------------------------------------

    def _authorization_server(self) -> AuthorizationServer:
        provider = self

        class Server(AuthorizationServer):
            def query_client(self, client_id: str) -> RegisteredClient | None:
                return provider.clients.get(client_id)

            def save_token(self, token: dict, request: OAuth2Request) -> None:
                pass

            def create_oauth2_request(self, request: Any) -> OAuth2Request:
                return request

            def create_json_request(self, request: Any) -> JsonRequest:
                raise NotImplementedError

            def handle_response(self, status: int, body: Any, headers: Any) -> Any:
                return status, body, dict(headers)

            def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
                pass

        class CodeGrant(grants.AuthorizationCodeGrant):
            def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
                data = request.payload.data
                provider.codes[code] = AuthorizationCode(
                    code=code,
                    client_id=request.client.client_id,
                    redirect_uri=data.get("redirect_uri", ""),
                    scope=data.get("scope", ""),
                    user=request.user,
                    nonce=data.get("nonce"),
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"),
                )

            def query_authorization_code(self, code: str, client: RegisteredClient) -> Any:
                found = provider.codes.get(code)
                if found and found.client_id == client.client_id and not found.is_expired():
                    return found
                return None

            def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: AuthorizationCode) -> ProviderUser:
                return authorization_code.user

        class IdTokens(OpenIDCode):
            def resolve_client_private_key(self, client: RegisteredClient) -> RSAKey:
                return provider.key

            def get_client_algorithm(self, client: RegisteredClient) -> str:
                return "RS256"

            def get_encode_header(self, client: RegisteredClient) -> dict[str, str]:
                return {"alg": "RS256", "kid": KEY_ID}

            def get_client_claims(self, client: RegisteredClient) -> dict[str, Any]:
                return {"iss": provider.issuer, "aud": [client.client_id]}

            def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
                return False

            def generate_user_info(self, user: ProviderUser, scope: str) -> UserInfo:
                # Applied last by authlib, so overrides replace nonce, aud, exp...
                info = {"sub": user.sub, "email": user.email, "email_verified": True}
                return UserInfo({**info, **provider.claim_overrides})

        server = Server()
        server.register_token_generator(
            "default", BearerTokenGenerator(lambda **_: secrets.token_urlsafe(24))
        )
        server.register_grant(CodeGrant, [IdTokens(require_nonce=True), CodeChallenge()])
        return server

    # -- HTTP -----------------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        query = dict(parse_qsl(parts.query))
        length = int(handler.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(handler.rfile.read(length).decode())) if length else {}
        if parts.path == "/.well-known/openid-configuration":
            return _send(handler, 200, self.metadata())
        if parts.path == "/jwks":
            return _send(handler, 200, KeySet([self.key]).as_dict(private=False))
        request = PlainRequest(method, self.issuer + handler.path, handler.headers, query, form)
        if parts.path == "/authorize":
            grant = self.server.get_consent_grant(request, end_user=self.user)
            status, body, headers = self.server.create_authorization_response(
                request, grant_user=self.user, grant=grant
            )
            return _send(handler, status, body, headers)
        if parts.path == "/token":
            status, body, headers = self.server.create_token_response(request)
            if status == 200 and self.id_token_transform is not None:
                body = {**body, "id_token": self.id_token_transform(body["id_token"])}
            return _send(handler, status, body, headers)
        return _send(handler, 404, {"error": "not_found"})


def _send(
    handler: BaseHTTPRequestHandler, status: int, body: Any, headers: dict | None = None
) -> None:
    payload = json.dumps(body).encode() if isinstance(body, dict) else str(body or "").encode()
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    if isinstance(body, dict):
        handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


def unsigned(id_token: str) -> str:
    """The same claims with ``alg: none`` and no signature."""
    _, claims, _ = id_token.split(".")
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    return f"{header}.{claims}."
