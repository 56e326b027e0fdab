"""A provider whose every answer is scripted in its config, for testing the router.

``outcomes`` is cycled per call: ``ok``, ``fail`` (502), ``rate:<seconds>`` (429 with a wait),
``client`` (400), ``context`` (400 context_length_exceeded), ``policy`` (400 content_filter),
``slow:<seconds>`` (answers after sleeping), ``boom`` (an unexpected exception).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
from pydantic import BaseModel, ConfigDict

from gateway_core import hookimpl
from gateway_core.api import ProviderAdapter, ProviderCall, ProviderReply
from gateway_core.errors import InvalidRequest, UpstreamError, UpstreamRateLimited
from gateway_core.sse import encode_event

CALLS: list[str] = []


class ScriptConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcomes: list[str] = ["ok"]


class ScriptedAdapter(ProviderAdapter):
    type_name = "scripted"
    config_model = ScriptConfig

    def __init__(self, config, context) -> None:
        super().__init__(config, context)
        self.calls = 0

    async def _outcome(self) -> None:
        outcome = self.config.outcomes[self.calls % len(self.config.outcomes)]
        self.calls += 1
        CALLS.append(self.context.deployment_id)
        kind, _, value = outcome.partition(":")
        if kind == "fail":
            raise UpstreamError("scripted failure")
        if kind == "rate":
            raise UpstreamRateLimited("scripted 429", retry_after=float(value))
        if kind == "client":
            raise InvalidRequest("scripted bad request")
        if kind == "context":
            raise InvalidRequest("too long", code="context_length_exceeded")
        if kind == "policy":
            raise InvalidRequest("filtered", code="content_filter")
        if kind == "slow":
            await asyncio.sleep(float(value))
        if kind == "boom":
            raise RuntimeError("adapter bug")

    async def chat(self, call: ProviderCall) -> ProviderReply:
        await self._outcome()
        return ProviderReply(orjson.dumps({"served_by": self.context.deployment_id}))

    embeddings = chat

    async def stream_chat(self, call: ProviderCall) -> AsyncIterator[bytes]:
        await self._outcome()
        yield encode_event(orjson.dumps({"served_by": self.context.deployment_id}))
        yield encode_event(b'{"n": 2}')


@hookimpl
def gateway_register_providers(providers) -> None:
    providers.add(ScriptedAdapter)
