"""A provider that answers by itself, echoing the last message; its prefix comes from the
plugin's own config section, so the test can see plugin settings reach the adapter."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import orjson
from pydantic import BaseModel, ConfigDict

from gateway_core import hookimpl
from gateway_core.api import ProviderAdapter, ProviderCall, ProviderReply
from gateway_core.sse import encode_event

STARTED: list[str] = []


class EchoPluginSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prefix: str = "echo: "


class EchoDeployment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prefix: str | None = None


class EchoAdapter(ProviderAdapter):
    type_name = "echo"
    config_model = EchoDeployment
    operations = frozenset({"chat"})
    default_prefix = "echo: "

    def _text(self, call: ProviderCall) -> str:
        prefix = self.config.prefix or self.default_prefix
        return prefix + str(call.body["messages"][-1].get("content", ""))

    async def chat(self, call: ProviderCall) -> ProviderReply:
        body = {
            "id": "chatcmpl-echo",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": call.public_model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": self._text(call)},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
        return ProviderReply(orjson.dumps(body))

    async def stream_chat(self, call: ProviderCall) -> AsyncIterator[bytes]:
        for word in self._text(call).split(" "):
            chunk = {
                "id": "chatcmpl-echo",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": call.public_model,
                "choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}],
            }
            yield encode_event(orjson.dumps(chunk))


@hookimpl
def gateway_plugin_config_model() -> type[BaseModel]:
    return EchoPluginSettings


@hookimpl
def gateway_register_providers(providers) -> None:
    providers.add(EchoAdapter)


@hookimpl
def gateway_startup(app, settings) -> None:
    EchoAdapter.default_prefix = settings.plugin_config("echo").prefix
    STARTED.append(app.name)
