"""Usage events and alerts POSTed in batches to a URL, signed, retried with backoff."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from gateway_core.api import UsageEvent, UsageSink
from gateway_core.usage.events import event_to_dict

log = logging.getLogger("gateway.usage.webhook")
SIGNATURE_HEADER = "X-Gateway-Signature"


class WebhookConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^https?://")
    secret: SecretStr | None = None
    max_attempts: int = Field(5, ge=1, le=20)
    backoff_initial: float = Field(0.5, ge=0)
    timeout: float = Field(10.0, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """``t=<unix time>,sha256=<hex HMAC of "<t>." + body>``: receivers reject stale replays."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},sha256={digest}"


class WebhookSink(UsageSink):
    type_name = "webhook"
    config_model = WebhookConfig

    def __init__(self, config: WebhookConfig) -> None:
        super().__init__(config)
        self._session: aiohttp.ClientSession | None = None
        secret = config.secret
        self._secret = secret.get_secret_value().encode() if secret is not None else None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.config.timeout)
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def write(self, events: Sequence[UsageEvent]) -> None:
        await self._post({"type": "usage", "events": [event_to_dict(e) for e in events]})

    async def write_alert(self, alert: Mapping[str, Any]) -> None:
        await self._post({"type": "alert", "alert": dict(alert)})

    async def _post(self, payload: dict[str, Any]) -> None:
        """Deliver or raise after ``max_attempts``; every attempt is logged (never the body)."""
        assert self._session is not None, "start() was not awaited"
        body = orjson.dumps(payload)
        headers = {"Content-Type": "application/json", **self.config.headers}
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = sign(self._secret, str(int(time.time())), body)
        delay = self.config.backoff_initial
        for attempt in range(1, self.config.max_attempts + 1):
            try:
                async with self._session.post(
                    self.config.url, data=body, headers=headers
                ) as response:
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                status, error = None, type(exc).__name__
            else:
                error = None
            log.info("webhook %s attempt %d: %s", payload["type"], attempt, status or error)
            if status is not None and 200 <= status < 300:
                return
            if status is not None and 400 <= status < 500 and status not in (408, 429):
                raise RuntimeError(f"webhook refused the delivery with HTTP {status}")
            if attempt < self.config.max_attempts:
                await asyncio.sleep(delay)
                delay *= 2
        raise RuntimeError(f"webhook delivery failed after {self.config.max_attempts} attempts")
