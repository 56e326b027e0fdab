"""The extension point for ways of signing admins in: passwords, identity providers, SAML...

A sign-in plugin registers a :class:`SignInMethod` subclass from the
``gateway_register_sign_in_methods`` hook. The core builds one instance per worker when the
method is switched on, lets it add its routes under ``/admin/auth``, and lists its
``type_name`` in ``GET /admin/auth/methods``. Proving who the admin is belongs to the method;
the session that follows (tokens, cookie, refresh, sign-out) belongs to the core.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from sanic import Blueprint, Sanic

    from gateway_core.config import Settings
    from gateway_core.sessions.service import SessionService
    from gateway_core.tenancy.service import Actor


class SignInMethod:
    """One way for an admin to prove who they are.

    Contract:

    * ``type_name`` is the method's public name (``"local"``, ``"oidc"``), shown by
      ``GET /admin/auth/methods``.
    * ``enabled_flag`` names the boolean key of the ``admin`` settings that switches the method
      on (``"local_enabled"``); ``None`` means it is on whenever its plugin is enabled.
    * ``__init__`` receives the validated settings (a plugin's own section is
      ``settings.plugin_config(name)``) and the :class:`SessionService`. Raise
      :class:`~gateway_core.config.ConfigError` for settings it cannot work with: start-up stops
      with the message. Do no I/O here.
    * ``add_routes`` adds handlers to the ``/admin/auth`` blueprint. A handler that has proved
      who the admin is finishes with ``await self.sessions.sign_in(user, self.type_name)``,
      which returns the response carrying the access token and the refresh cookie. Failures are
      :class:`~gateway_core.errors.GatewayError` subclasses and must never echo a credential.
    * ``startup`` runs once per worker after the database and shared state are open
      (``app.ctx.gateway.shared``, ``app.ctx.gateway.tenancy``); ``shutdown`` releases what it
      opened.
    """

    type_name: ClassVar[str] = ""
    enabled_flag: ClassVar[str | None] = None

    def __init__(self, settings: Settings, sessions: SessionService) -> None:
        self.settings = settings
        self.sessions = sessions

    def add_routes(self, blueprint: Blueprint) -> None:
        raise NotImplementedError

    async def startup(self, app: Sanic) -> None:
        """Fetch per-worker resources from ``app.ctx.gateway``."""

    async def shutdown(self) -> None:
        """Release what ``startup`` opened."""


class PasswordSignIn(SignInMethod):
    """A sign-in method with passwords the operator can set (``gateway admin set-password``)."""

    def check_password(self, password: str) -> None:
        """Raise :class:`~gateway_core.errors.InvalidRequest` for a password that
        :meth:`set_password` would refuse (so a caller can ask before changing anything)."""

    async def set_password(self, actor: Actor, user_id: str, password: str) -> None:
        """Store a new password for ``user_id``, audited as done by ``actor``.

        Raises :class:`~gateway_core.errors.InvalidRequest` for a password the method refuses.
        """
        raise NotImplementedError
