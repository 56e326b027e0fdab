"""Short-lived access tokens: HS256 JWTs that carry who the admin is and what role they hold.

Only HS256 is ever accepted (never ``none``, never an algorithm the token itself names), and
issuer, audience, expiry and the token type are all required, so a JWT minted for anything else
with the same secret cannot pass for an admin session.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
ISSUER = "gateway-core"
AUDIENCE = "gateway-core/admin"
TOKEN_TYPE = "admin_access"  # noqa: S105 (a claim value, not a secret)
REQUIRED_CLAIMS = ("iss", "aud", "sub", "exp", "iat", "sid", "typ")


class AccessTokenInvalid(Exception):
    """The token is not a valid admin access token; ``expired`` tells the client to refresh."""

    def __init__(self, reason: str, *, expired: bool = False) -> None:
        super().__init__(reason)
        self.expired = expired


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    session_id: str
    role: str
    team_id: str | None
    expires_at: int


class AccessTokenCodec:
    """Signs and verifies access tokens with the deployment's session secret."""

    def __init__(self, secret: str, ttl: float) -> None:
        self._key = secret.encode()
        self.ttl = int(ttl)

    def issue(
        self, *, user_id: str, session_id: str, role: str, team_id: str | None, email: str
    ) -> tuple[str, int]:
        """Return the token and its lifetime in seconds."""
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": user_id,
            "sid": session_id,
            "typ": TOKEN_TYPE,
            "role": role,
            "team_id": team_id,
            "email": email,
            "iat": now,
            "exp": now + self.ttl,
            "jti": secrets.token_urlsafe(12),
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM), self.ttl

    def verify(self, token: str) -> AccessClaims:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError:
            raise AccessTokenInvalid("expired", expired=True) from None
        except jwt.PyJWTError as exc:
            raise AccessTokenInvalid(type(exc).__name__) from None
        if claims.get("typ") != TOKEN_TYPE or not isinstance(claims.get("role"), str):
            raise AccessTokenInvalid("not an admin access token")
        return AccessClaims(
            user_id=str(claims["sub"]),
            session_id=str(claims["sid"]),
            role=claims["role"],
            team_id=claims.get("team_id"),
            expires_at=int(claims["exp"]),
        )


def claims_issuer(token: str) -> str | None:
    """The unverified ``iss`` of a JWT-shaped token, or ``None``: only used to decide whether a
    token is ours to judge (tri-state auth), never to trust anything in it."""
    if token.count(".") != 2:
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    issuer = claims.get("iss")
    return issuer if isinstance(issuer, str) else None
