"""AWS credentials for SigV4, found and refreshed by botocore, kept off the event loop.

botocore's credential chain reads files, calls instance and container metadata services and
STS, and refreshes temporary credentials by blocking on the network. Every call into it runs
in a worker thread (:func:`asyncio.to_thread`); requests use the frozen credentials cached
here and only wait when there are none yet, or when they are about to expire.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol

from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    Credentials,
    DeferredRefreshableCredentials,
    ReadOnlyCredentials,
)
from botocore.session import Session

from gateway_bedrock.config import BedrockConfig
from gateway_core.api import UpstreamError

#: Credentials with less than this left are not used while a refresh could replace them.
STILL_VALID_FOR = 60
#: While botocore's refresh keeps failing (or declining), try again at most this often.
REFRESH_RETRY_INTERVAL = 10.0


class BotocoreCredentials(Protocol):
    """What the cache needs of botocore's ``Credentials`` and ``RefreshableCredentials``."""

    def get_frozen_credentials(self) -> ReadOnlyCredentials: ...


def credential_source(config: BedrockConfig) -> Callable[[], BotocoreCredentials | None]:
    """A blocking function that finds the deployment's credentials the way the AWS SDKs do.

    Explicit keys win; otherwise botocore's default chain runs for ``profile`` (or the
    environment's profile). With ``role_arn``, those credentials only sign the STS AssumeRole
    call, and the role's temporary credentials are refreshed by botocore before they expire.
    Nothing is read until the function is called, so building an adapter does no I/O.
    """

    def resolve() -> BotocoreCredentials | None:
        explicit = _explicit_keys(config)
        if explicit is not None and config.role_arn is None:
            return explicit
        session = Session(profile=config.profile)
        source: Any = explicit or session.get_credentials()
        if source is None or config.role_arn is None:
            return source
        return _assumed_role(config, session, source)

    return resolve


def _explicit_keys(config: BedrockConfig) -> Credentials | None:
    if config.aws_access_key_id is None or config.aws_secret_access_key is None:
        return None
    token = config.aws_session_token
    return Credentials(
        config.aws_access_key_id.get_secret_value(),
        config.aws_secret_access_key.get_secret_value(),
        token.get_secret_value() if token is not None else None,
        method="gateway-config",
    )


def _assumed_role(
    config: BedrockConfig, session: Session, source: Any
) -> DeferredRefreshableCredentials:
    assert config.role_arn is not None
    extra: dict[str, str] = {"RoleSessionName": config.role_session_name}
    if config.external_id is not None:
        extra["ExternalId"] = config.external_id.get_secret_value()

    def sts_client(service: str, **keys: Any) -> Any:
        return session.create_client(
            service, region_name=config.region, endpoint_url=config.sts_endpoint_url, **keys
        )

    fetcher = AssumeRoleCredentialFetcher(sts_client, source, config.role_arn, extra_args=extra)
    return DeferredRefreshableCredentials(fetcher.fetch_credentials, "assume-role")


class CredentialCache:
    """Frozen credentials for signing, refreshed in a thread before they expire.

    Static credentials are resolved once. Temporary ones (roles, SSO, metadata services) are
    refreshed when botocore says they are due (its advisory window, 15 minutes before expiry):
    one refresh at a time, while other requests keep signing with the current credentials as
    long as they have more than a minute left. A failed first resolution raises a gateway error
    that names the deployment and the exception class, never a value.
    """

    def __init__(
        self,
        source: Callable[[], BotocoreCredentials | None],
        deployment: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._deployment = deployment
        self._clock = clock
        self._credentials: BotocoreCredentials | None = None
        self._frozen: ReadOnlyCredentials | None = None
        self._checked_at = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self) -> ReadOnlyCredentials:
        frozen = self._frozen
        if frozen is not None and not self._due():
            return frozen
        if frozen is not None and self._usable() and self._lock.locked():
            return frozen  # a refresh is running; these are still good meanwhile
        async with self._lock:
            if self._frozen is not None and not self._due():
                return self._frozen
            try:
                self._credentials, self._frozen = await asyncio.to_thread(self._resolve)
            except UpstreamError:
                if self._frozen is not None and self._usable():
                    return self._frozen
                raise
            finally:
                self._checked_at = self._clock()
            return self._frozen

    def invalidate(self) -> None:
        """Forget everything: AWS said the credentials expired, so resolve them anew."""
        self._credentials = None
        self._frozen = None

    def _due(self) -> bool:
        """Whether to ask botocore again (cheap: it compares the expiry with the clock)."""
        credentials = self._credentials
        if credentials is None:
            return True
        if not _refresh_needed(credentials):
            return False
        return self._clock() - self._checked_at >= REFRESH_RETRY_INTERVAL or not self._usable()

    def _usable(self) -> bool:
        credentials = self._credentials
        return credentials is not None and not _refresh_needed(credentials, STILL_VALID_FOR)

    def _resolve(self) -> tuple[BotocoreCredentials, ReadOnlyCredentials]:
        """Runs in a worker thread: everything here may block on files or the network."""
        try:
            credentials = self._credentials or self._source()
            if credentials is None:
                raise UpstreamError(
                    f"Deployment {self._deployment} found no AWS credentials (environment, "
                    "profile, container or instance metadata)",
                    code="upstream_authentication_error",
                )
            frozen = credentials.get_frozen_credentials()
        except UpstreamError:
            raise
        except Exception as exc:
            # botocore's messages can quote profile contents or STS answers: name the class only.
            raise UpstreamError(
                f"Deployment {self._deployment} could not get AWS credentials "
                f"({type(exc).__name__})",
                code="upstream_authentication_error",
            ) from None
        if not frozen.access_key or not frozen.secret_key:
            raise UpstreamError(
                f"Deployment {self._deployment} got incomplete AWS credentials",
                code="upstream_authentication_error",
            )
        return credentials, frozen


def _refresh_needed(credentials: BotocoreCredentials, within: int | None = None) -> bool:
    check = getattr(credentials, "refresh_needed", None)
    return bool(check(within)) if check is not None else False
