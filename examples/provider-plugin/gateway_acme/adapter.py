"""The Acme adapter: one configured deployment, speaking Acme's HTTP API for the gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from gateway_acme import wire
from gateway_core.api import (
    AdapterContext,
    GatewayError,
    ProviderAdapter,
    ProviderCall,
    ProviderReply,
    UpstreamError,
    UpstreamResponse,
)
from gateway_core.builtins.openai_provider import map_openai_style_error
from gateway_core.sse import complete_events


class AcmeConfig(BaseModel):
    """The keys a deployer writes under ``provider: acme``; unknown keys are mistakes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1)
    api_key: SecretStr
    base_url: str = Field("https://api.acme.example", pattern=r"^https?://")


class AcmeAdapter(ProviderAdapter):
    type_name = "acme"
    config_model = AcmeConfig
    operations = frozenset({"chat"})
    config: AcmeConfig

    def __init__(self, config: AcmeConfig, context: AdapterContext) -> None:
        super().__init__(config, context)
        # Built once per worker: requests only read them.
        self.url = f"{config.base_url.rstrip('/')}/v2/generate"
        self.headers = {
            "Content-Type": "application/json",
            "X-Acme-Key": config.api_key.get_secret_value(),
        }

    async def chat(self, call: ProviderCall) -> ProviderReply:
        body = wire.generate_request(call.body, self.config.model, stream=False)
        async with self._post(body) as response:
            answer = await response.read()
            if response.status >= 400:
                raise self.map_error(response, answer)
        return ProviderReply(wire.completion(self._json(answer), call))

    async def stream_chat(self, call: ProviderCall) -> AsyncIterator[bytes]:
        body = wire.generate_request(call.body, self.config.model, stream=True)
        async with self._post(body) as response:
            if response.status >= 400:
                # Raised before the first event: the router may still try another deployment.
                raise self.map_error(response, await response.read())
            writer = wire.ChunkWriter(call)
            yield writer.opening()
            async for lines in complete_events(response.iter_bytes(), separator=b"\n"):
                events = b"".join(
                    writer.feed(self._json(line)) for line in lines.splitlines() if line.strip()
                )
                if events:
                    yield events
                if writer.finished:
                    return
        raise UpstreamError(f"The stream from {self.context.deployment_id} ended early")

    def _post(self, body: bytes) -> Any:
        return self.context.http.request(
            "POST", self.url, headers=self.headers, content=body, timeouts=self.context.timeouts
        )

    def _json(self, data: bytes) -> dict[str, Any]:
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            value = None
        if not isinstance(value, dict):
            raise UpstreamError(f"Deployment {self.context.deployment_id} sent something not JSON")
        return value

    def map_error(self, response: UpstreamResponse, body: bytes) -> GatewayError:
        """Acme's statuses mean what OpenAI's do; only the body differs. The core's mapper
        decides the gateway's answer (400s relayed, 429 with Retry-After, 401 as 502...)."""
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = None
        problem = parsed.get("problem") if isinstance(parsed, dict) else None
        if not isinstance(problem, dict):
            problem = {}
        fields = (_text(problem.get("detail")), _text(problem.get("kind")), None)
        return map_openai_style_error(
            response.status, body, response.headers, self.context.deployment_id, fields=fields
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
