"""The Vertex AI adapter: one Gemini (or text-embedding) model in one project and location."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import orjson

from gateway_core.api import (
    AdapterContext,
    GatewayError,
    ProviderAdapter,
    ProviderCall,
    ProviderReply,
    UpstreamError,
    UpstreamResponse,
)
from gateway_core.sse import complete_events
from gateway_vertex.answers import completion
from gateway_vertex.auth.signing import google_auth
from gateway_vertex.config import VertexConfig
from gateway_vertex.embeddings import (
    batches,
    embedding_inputs,
    embeddings_response,
    predict_request,
    read_predictions,
)
from gateway_vertex.errors import map_vertex_error, read_google_error
from gateway_vertex.request import encoded_request
from gateway_vertex.stream import StreamTranslator, data_payloads
from gateway_vertex.urls import model_url

#: How many ``predict`` calls one embeddings request may have in flight at once.
PREDICT_CONCURRENCY = 8


class VertexAdapter(ProviderAdapter):
    type_name = "vertex"
    config_model = VertexConfig
    config: VertexConfig

    def __init__(self, config: VertexConfig, context: AdapterContext) -> None:
        super().__init__(config, context)
        self.generate_url = model_url(config, "generateContent")
        # Without alt=sse the stream is one JSON array that arrives piece by piece.
        self.stream_url = model_url(config, "streamGenerateContent") + "?alt=sse"
        self.predict_url = model_url(config, "predict")
        self.headers = {"Content-Type": "application/json; charset=utf-8", **config.headers}
        self.auth = google_auth(
            config.credentials, context.http, context.timeouts, context.deployment_id
        )

    # -- chat -----------------------------------------------------------------------------

    async def chat(self, call: ProviderCall) -> ProviderReply:
        body = encoded_request(call.body, self.config)
        async with self._post(self.generate_url, body) as response:
            answer = await response.read()
            if response.status >= 400:
                raise self.map_error(response, answer)
        return ProviderReply(completion(self._json(answer), call, self.context.deployment_id))

    async def stream_chat(self, call: ProviderCall) -> AsyncIterator[bytes]:
        body = encoded_request(call.body, self.config)
        async with self._post(self.stream_url, body) as response:
            if response.status >= 400:
                # Raised before the first event: the router may still try another deployment.
                raise self.map_error(response, await response.read())
            translator = StreamTranslator(call)
            started = False
            # Events are single data lines ending in CRLF CRLF; reading whole lines copes
            # with either line ending and with pieces that end anywhere.
            async for lines in complete_events(response.iter_bytes(), separator=b"\n"):
                chunks = []
                for payload in data_payloads(lines):
                    event = self._json(payload)
                    if "error" in event:
                        if chunks and started:
                            yield b"".join(chunks)
                        raise self._stream_error(event)
                    chunks.append(translator.feed(event))
                run = b"".join(chunks)
                if run:
                    started = True
                    yield run
            if not translator.complete:
                raise UpstreamError(
                    f"The stream from {self.context.deployment_id} ended before it was complete"
                )
            tail = translator.close()
            if tail:
                yield tail

    # -- embeddings -----------------------------------------------------------------------

    async def embeddings(self, call: ProviderCall) -> ProviderReply:
        texts = embedding_inputs(call.body)
        limit = asyncio.Semaphore(PREDICT_CONCURRENCY)

        async def predict(batch: list[str]) -> list[tuple[list[float], int]]:
            async with limit:
                return await self._predict(batch, call.body)

        groups = batches(texts, self.config.batch_size)
        if len(groups) == 1:
            vectors = await predict(groups[0])
        else:
            try:
                async with asyncio.TaskGroup() as tasks:
                    running = [tasks.create_task(predict(group)) for group in groups]
            except* GatewayError as failed:
                raise failed.exceptions[0] from None
            vectors = [vector for task in running for vector in task.result()]
        return ProviderReply(embeddings_response(vectors, call.body, call))

    async def _predict(
        self, texts: list[str], body: dict[str, Any]
    ) -> list[tuple[list[float], int]]:
        async with self._post(self.predict_url, predict_request(texts, body, self.config)) as r:
            answer = await r.read()
            if r.status >= 400:
                raise self.map_error(r, answer)
        return read_predictions(self._json(answer), len(texts), self.context.deployment_id)

    # -- plumbing -------------------------------------------------------------------------

    def _post(self, url: str, body: bytes) -> AbstractAsyncContextManager[UpstreamResponse]:
        return self.context.http.request(
            "POST",
            url,
            headers=self.headers,
            content=body,
            auth=self.auth,
            timeouts=self.context.timeouts,
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
        return map_vertex_error(
            response.status,
            read_google_error(body),
            response.headers,
            self.context.deployment_id,
            self.config.default_retry_after,
        )

    def _stream_error(self, event: dict[str, Any]) -> GatewayError:
        """An error Vertex sent as an event, after its 200 status had gone out."""
        error = read_google_error(event)
        return map_vertex_error(
            error.code or 500,
            error,
            {},
            self.context.deployment_id,
            self.config.default_retry_after,
        )
