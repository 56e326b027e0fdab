"""A sign-in method for the core's tests: ``POST /admin/auth/trusted {"email"}`` signs that
existing user in with no proof at all.

It lets the session tests exercise tokens, refresh, sign-out and permissions through real HTTP
without depending on the password or identity-provider plugins (core tests never import those).
"""

from __future__ import annotations

from gateway_core import hookimpl
from gateway_core.codec import loads_object
from gateway_core.errors import AuthenticationFailed
from gateway_core.sessions import SignInMethod
from gateway_core.tenancy import repository


class TrustedSignIn(SignInMethod):
    type_name = "trusted"

    def add_routes(self, blueprint) -> None:
        blueprint.add_route(self.sign_in, "/trusted", methods=["POST"], name="trusted_sign_in")

    async def sign_in(self, request):
        email = str(loads_object(request.body).get("email", ""))
        user = await repository.find_user_by_email(email)
        if user is None:
            raise AuthenticationFailed("No such user.")
        return await self.sessions.sign_in(user, self.type_name)


@hookimpl
def gateway_register_sign_in_methods(methods) -> None:
    methods.add(TrustedSignIn)
