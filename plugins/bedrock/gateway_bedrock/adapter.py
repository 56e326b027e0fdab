"""The Bedrock adapter: one model in one region behind the gateway's OpenAI API.

Chat goes through Converse and ConverseStream, embeddings through InvokeModel. Requests are
signed with SigV4 (credentials from the AWS chain) or carry a Bedrock API key as a bearer
token. The translation itself lives in :mod:`converse`, :mod:`replies`, :mod:`stream` and
:mod:`embeddings`; this module only does the HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from gateway_bedrock import embeddings as embed
from gateway_bedrock.api_key import ApiKeyAuth
from gateway_bedrock.config import BedrockConfig
from gateway_bedrock.converse import ConverseOptions, converse_request
from gateway_bedrock.credentials import CredentialCache, credential_source
from gateway_bedrock.errors import read_fault
from gateway_bedrock.eventstream import EventStreamDecoder, EventStreamError
from gateway_bedrock.replies import chat_completion
from gateway_bedrock.signing import SigV4Signer
from gateway_bedrock.stream import ConverseStreamTranslator
from gateway_core.api import (
    AdapterContext,
    GatewayError,
    ProviderAdapter,
    ProviderCall,
    ProviderReply,
    UpstreamError,
    UpstreamResponse,
)

#: Titan embeds one text per call; this many calls run at once for a list of inputs.
TITAN_PARALLEL_CALLS = 8


def runtime_root(config: BedrockConfig) -> str:
    """The Bedrock Runtime endpoint: the configured one, or the region's public one."""
    if config.endpoint_url is not None:
        return config.endpoint_url
    suffix = "amazonaws.com.cn" if config.region.startswith("cn-") else "amazonaws.com"
    return f"https://bedrock-runtime.{config.region}.{suffix}"


def model_url(config: BedrockConfig, action: str) -> str:
    """``<root>/model/<id>/<action>``; the id is one path segment, so ``:`` and ``/`` are
    percent-encoded (``%3A``, ``%2F``) here and signed in that form."""
    return f"{runtime_root(config)}/model/{quote(config.model, safe='')}/{action}"


class BedrockAdapter(ProviderAdapter):
    """One Bedrock model id, inference profile or ARN, in one region."""

    type_name = "bedrock"
    config_model = BedrockConfig
    operations = frozenset({"chat", "embeddings"})
    config: BedrockConfig

    def __init__(self, config: BedrockConfig, context: AdapterContext) -> None:
        super().__init__(config, context)
        self.converse_url = model_url(config, "converse")
        self.stream_url = model_url(config, "converse-stream")
        self.invoke_url = model_url(config, "invoke")
        self.options = ConverseOptions(
            config.temperature_above_one, dict(config.additional_model_request_fields)
        )
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        self.credentials: CredentialCache | None = None
        self.auth: httpx.Auth
        if config.api_key is not None:
            self.auth = ApiKeyAuth(config.api_key)
        else:
            self.credentials = CredentialCache(credential_source(config), context.deployment_id)
            self.auth = SigV4Signer(self.credentials, config.region)

    # -- chat -----------------------------------------------------------------------------

    async def chat(self, call: ProviderCall) -> ProviderReply:
        body = orjson.dumps(converse_request(call.body, self.options))
        async with self._post(self.converse_url, body) as response:
            answer = await response.read()
            if response.status >= 400:
                raise self.map_error(response, answer)
        reply = chat_completion(self._json(answer), call, self.context.deployment_id)
        return ProviderReply(reply)

    async def stream_chat(self, call: ProviderCall) -> AsyncIterator[bytes]:
        body = orjson.dumps(converse_request(call.body, self.options))
        deployment = self.context.deployment_id
        async with self._post(self.stream_url, body, stream=True) as response:
            if response.status >= 400:
                # Before the first event: the router may still try another deployment.
                raise self.map_error(response, await response.read())
            decoder = EventStreamDecoder()
            translator = ConverseStreamTranslator(call, deployment)
            sent_any = False
            async for piece in response.iter_bytes():
                run = bytearray()
                try:
                    for message in decoder.feed(piece):
                        run += translator.feed(message)
                except EventStreamError as exc:
                    raise UpstreamError(
                        f"Deployment {deployment} sent a corrupt stream: {exc}"
                    ) from None
                except GatewayError:
                    # Text decoded just before a failure still reaches the client, unless
                    # nothing was sent yet: then the router may retry elsewhere instead.
                    if sent_any and run:
                        yield bytes(run)
                    raise
                if run:
                    sent_any = True
                    yield bytes(run)
                if translator.finished:
                    return
        raise UpstreamError(f"The stream from deployment {deployment} ended before it was complete")

    # -- embeddings -----------------------------------------------------------------------

    async def embeddings(self, call: ProviderCall) -> ProviderReply:
        family = embed.embedding_family(self.config)
        if family is None:
            raise UpstreamError(
                f"Deployment {self.context.deployment_id} cannot tell the request format of its "
                "embedding model; set embedding_format (titan or cohere)",
                code="upstream_configuration_error",
            )
        texts = embed.embedding_inputs(call.body)
        if family == "titan":
            vectors, tokens = await self._titan(texts, call.body)
        else:
            vectors, tokens = await self._cohere(texts, call.body)
        return ProviderReply(embed.embeddings_reply(vectors, tokens, call))

    async def _titan(self, texts: list[str], body: dict[str, Any]) -> tuple[list[list[float]], int]:
        requests = [embed.titan_request(text, body) for text in texts]
        gate = asyncio.Semaphore(TITAN_PARALLEL_CALLS)
        deployment = self.context.deployment_id

        async def one(request: bytes) -> tuple[list[float], int]:
            async with gate:
                answer, _headers = await self._invoke(request)
            return embed.titan_vector(answer, deployment)

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(request)) for request in requests]
        except ExceptionGroup as failed:
            # The first failure is the answer; the group cancelled the other calls.
            raise failed.exceptions[0] from None
        results = [task.result() for task in tasks]
        return [vector for vector, _ in results], sum(tokens for _, tokens in results)

    async def _cohere(
        self, texts: list[str], body: dict[str, Any]
    ) -> tuple[list[list[float]], int]:
        vectors: list[list[float]] = []
        tokens = 0
        batches = embed.cohere_requests(texts, body, self.config)
        for number, request in enumerate(batches):
            answer, headers = await self._invoke(request)
            size = min(embed.COHERE_BATCH, len(texts) - number * embed.COHERE_BATCH)
            got, used = embed.cohere_vectors(answer, headers, size, self.context.deployment_id)
            vectors += got
            tokens += used
        return vectors, tokens

    async def _invoke(self, body: bytes) -> tuple[Any, Mapping[str, str]]:
        async with self._post(self.invoke_url, body) as response:
            answer = await response.read()
            if response.status >= 400:
                raise self.map_error(response, answer)
            return self._json(answer), response.headers

    # -- HTTP -----------------------------------------------------------------------------

    def _post(
        self, url: str, body: bytes, *, stream: bool = False
    ) -> AbstractAsyncContextManager[UpstreamResponse]:
        headers = self.headers
        if stream:
            headers = {**headers, "Accept": "application/vnd.amazon.eventstream"}
        return self.context.http.request(
            "POST",
            url,
            headers=headers,
            content=body,
            auth=self.auth,
            timeouts=self.context.timeouts,
        )

    def map_error(self, response: UpstreamResponse, body: bytes) -> GatewayError:
        """The gateway's error for a Bedrock error response; an expired token also drops the
        cached credentials, so that the next request looks them up again."""
        fault = read_fault(response.headers, body)
        if fault.credentials_expired and self.credentials is not None:
            self.credentials.invalidate()
        return fault.to_error(response.status, self.context.deployment_id)

    def _json(self, data: bytes) -> Any:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            raise UpstreamError(
                f"Deployment {self.context.deployment_id} answered with something not JSON"
            ) from None
