"""Sessions of signed-in admins and the seam for the ways they sign in.

Sign-in plugins (``auth_local``, ``auth_oidc``, a third party's SAML) subclass
:class:`SignInMethod` and hand a proven user to :class:`SessionService`; the core issues the
HS256 access token, rotates refresh tokens in revocable families, and accepts the access
token on the admin API through the ``admin_session`` auth method. See ``docs/admin-auth.md``.
"""

from gateway_core.sessions.service import IssuedSession, SessionService
from gateway_core.sessions.signin import PasswordSignIn, SignInMethod

__all__ = ["IssuedSession", "PasswordSignIn", "SessionService", "SignInMethod"]
