"""Who may sign in through the provider, and the admin user a first sign-in creates."""

from __future__ import annotations

from gateway_auth_oidc.config import OidcSignInConfig
from gateway_core.api import Identity
from gateway_core.errors import Conflict
from gateway_core.tenancy import repository as users
from gateway_core.tenancy.models import AdminUser
from gateway_core.tenancy.schemas import UserCreate
from gateway_core.tenancy.service import Actor, TenancyService

PROVISIONER = Actor(Identity(subject="oidc-provisioning", method="oidc", role="admin"))


def email_domain_allowed(email: str, allowed_domains: list[str]) -> bool:
    """Exact domain match, case-insensitive: ``acme.com`` does not admit ``eu.acme.com``."""
    local, at, domain = email.rpartition("@")
    if not (local and at and domain):
        return False
    return domain.lower() in {entry.strip().lower().lstrip("@") for entry in allowed_domains}


async def find_or_provision(
    tenancy: TenancyService, email: str, config: OidcSignInConfig
) -> AdminUser:
    """The admin user with ``email``, created (audited, by ``oidc-provisioning``) if new."""
    email = email.strip().lower()
    user = await users.find_user_by_email(email)
    if user is not None:
        return user
    role = config.roles.get(email, config.default_role)
    try:
        created = await tenancy.create_user(PROVISIONER, UserCreate(email=email, role=role))
    except Conflict:  # a concurrent first sign-in created it
        created = None
    user = (
        await users.find_user(created["id"]) if created else await users.find_user_by_email(email)
    )
    assert user is not None
    return user
