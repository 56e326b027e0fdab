"""Built-in provider: any OpenAI-compatible upstream (OpenAI, vLLM, Ollama, another gateway).

The request bytes are forwarded unchanged whenever the upstream model name equals the one the
client sent; responses and streams are passed through without being parsed. Subclasses (Azure)
override the URL, headers, auth and the event filter, and keep everything else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from gateway_core import hookimpl
from gateway_core.api import (
    AdapterContext,
    GatewayError,
    InvalidRequest,
    ProviderAdapter,
    ProviderCall,
    ProviderReply,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from gateway_core.http import UpstreamResponse
from gateway_core.sse import DONE_EVENT, complete_events

if TYPE_CHECKING:
    from gateway_core.registry import Registry

# Upstream statuses that mean the client's request itself is wrong: relayed, never retried.
CLIENT_FAULT_STATUSES = frozenset({400, 409, 413, 415, 422})


class OpenAIConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1, description="Model name the upstream expects")
    base_url: str = Field(
        pattern=r"^https?://", description="API root including the version, e.g. .../v1"
    )
    api_key: SecretStr | None = None
    headers: dict[str, str] = Field(default_factory=dict)


def upstream_error_fields(body: bytes) -> tuple[str | None, str | None, str | None]:
    """(message, code, param) from an OpenAI-shaped error body, tolerating anything else."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, None, None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict):
        return None, None, None
    message, code, param = error.get("message"), error.get("code"), error.get("param")
    return (
        message if isinstance(message, str) else None,
        str(code) if code is not None else None,
        param if isinstance(param, str) else None,
    )


class OpenAIAdapter(ProviderAdapter):
    """Forwards to an OpenAI-compatible ``/chat/completions`` and ``/embeddings``."""

    type_name = "openai"
    config_model = OpenAIConfig

    def __init__(self, config: OpenAIConfig, context: AdapterContext) -> None:
        super().__init__(config, context)
        self.upstream_model = self.model_name(config)
        self.headers = self.build_headers(config)
        self.auth = self.build_auth(config)
        self.chat_url = self.url_for("chat/completions")
        self.embeddings_url = self.url_for("embeddings")

    # -- what subclasses change ----------------------------------------------------------

    def model_name(self, config: Any) -> str:
        """The model name the upstream expects in the request body."""
        return config.model

    def url_for(self, path: str) -> str:
        return f"{self.config.base_url.rstrip('/')}/{path}"

    def build_headers(self, config: Any) -> dict[str, str]:
        headers = {"Content-Type": "application/json", **config.headers}
        if config.api_key is not None:
            headers["Authorization"] = f"Bearer {config.api_key.get_secret_value()}"
        return headers

    def build_auth(self, config: Any) -> httpx.Auth | None:
        """An ``httpx.Auth`` that signs each request, or ``None`` for static headers."""
        return None

    def keep_events(self, events: bytes) -> bytes:
        """Filter a run of complete SSE events before it reaches the client."""
        return events

    def stream_filter(self, call: ProviderCall) -> Callable[[bytes], bytes]:
        """The filter for one stream's runs of events.

        Override this instead of ``keep_events`` when filtering needs state that lives as long
        as one stream (the adapter itself is shared by every request of its deployment).
        """
        return self.keep_events

    def request_body(self, call: ProviderCall) -> bytes:
        if call.body.get("model") == self.upstream_model:
            return call.raw_body
        return orjson.dumps({**call.body, "model": self.upstream_model})

    # -- the calls ------------------------------------------------------------------------

    async def chat(self, call: ProviderCall) -> ProviderReply:
        return await self._post_json(self.chat_url, call)

    async def embeddings(self, call: ProviderCall) -> ProviderReply:
        return await self._post_json(self.embeddings_url, call)

    async def _post_json(self, url: str, call: ProviderCall) -> ProviderReply:
        async with self.context.http.request(
            "POST",
            url,
            headers=self.headers,
            content=self.request_body(call),
            auth=self.auth,
            timeouts=self.context.timeouts,
        ) as response:
            body = await response.read()
            if response.status >= 400:
                raise self.map_error(response, body)
            return ProviderReply(body)

    async def stream_chat(self, call: ProviderCall) -> AsyncIterator[bytes]:
        async with self.context.http.request(
            "POST",
            self.chat_url,
            headers=self.headers,
            content=self.request_body(call),
            auth=self.auth,
            timeouts=self.context.timeouts,
        ) as response:
            if response.status >= 400:
                raise self.map_error(response, await response.read())
            keep = self.stream_filter(call)
            async for events in complete_events(response.iter_bytes()):
                if events.endswith(DONE_EVENT):
                    events = keep(events[: -len(DONE_EVENT)])
                    if events:
                        yield events
                    return
                events = keep(events)
                if events:
                    yield events
        raise UpstreamError(
            f"The stream from {self.context.deployment_id} ended before it was complete"
        )

    # -- errors ---------------------------------------------------------------------------

    def map_error(self, response: UpstreamResponse, body: bytes) -> GatewayError:
        """Translate an upstream error response into the gateway's error for the client."""
        return map_openai_style_error(
            response.status, body, response.headers, self.context.deployment_id
        )


def map_openai_style_error(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    deployment: str,
    *,
    fields: tuple[str | None, str | None, str | None] | None = None,
    retry_after: float | None = None,
) -> GatewayError:
    """The gateway's error for an upstream error status.

    ``fields`` is (message, code, param) for a provider whose error bodies are not
    OpenAI-shaped (by default they are read from ``body``); ``retry_after`` replaces the wait
    read from the ``retry-after`` headers, for a provider that states it elsewhere as well.
    """
    message, code, param = fields if fields is not None else upstream_error_fields(body)
    if status in CLIENT_FAULT_STATUSES:
        return InvalidRequest(
            message or f"The upstream rejected the request (HTTP {status})",
            code=code or "invalid_request",
            param=param,
            status=status,
        )
    if status == 429:
        from gateway_core.http import parse_retry_after

        return UpstreamRateLimited(
            message or f"Deployment {deployment} is rate limited upstream",
            retry_after=parse_retry_after(headers) if retry_after is None else retry_after,
        )
    if status in (401, 403):
        return UpstreamError(
            f"Deployment {deployment} rejected the gateway's credentials (HTTP {status})",
            code="upstream_authentication_error",
        )
    if status == 408:
        return UpstreamTimeout(f"Deployment {deployment} timed out (HTTP 408)")
    if status == 404:
        return UpstreamError(
            f"Deployment {deployment} does not serve this model or path (HTTP 404)",
            code="upstream_not_found",
        )
    return UpstreamError(f"Deployment {deployment} failed (HTTP {status})")


@hookimpl
def gateway_register_providers(providers: Registry[type[ProviderAdapter]]) -> None:
    providers.add(OpenAIAdapter)
