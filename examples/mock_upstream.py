"""A small, fast OpenAI-compatible upstream for the quick start, the tests and the benchmark.

Run it: ``python examples/mock_upstream.py --port 9100``. It serves ``/v1/chat/completions``
(plain and streaming), ``/v1/embeddings`` and ``/v1/models`` with deterministic answers.

Behaviour can be shaped two ways, with the same options:

* per deployment, by a path prefix in the base URL:
  ``http://127.0.0.1:9100/mock/status=429,retry_after=2/v1``
* per request, by a ``mock`` object in the request body (the openai SDK's ``extra_body``):
  ``{"mock": {"chunks": 50, "chunk_delay": 0.01}}``

Options: ``status`` (answer with this HTTP error), ``retry_after`` (seconds, with 429/503),
``latency`` (seconds before the response starts), ``chunks`` (stream pieces), ``chunk_delay``
(seconds between pieces), ``words`` (length of the answer), ``fail_after`` (a stream breaks its
connection after this many pieces), ``dims`` (embedding size).

``GET /mock/stats`` reports counters (requests, in-flight, streams completed and aborted,
peak concurrency); ``POST /mock/reset`` zeroes them.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import time
from typing import Any

import orjson
from aiohttp import web

WORDS = [
    "gateway",
    "routes",
    "every",
    "request",
    "to",
    "a",
    "healthy",
    "deployment",
    "while",
    "limits",
    "budgets",
    "and",
    "usage",
    "stay",
    "exact",
    "across",
    "instances",
    "so",
    "teams",
    "can",
    "rely",
    "on",
    "one",
    "stable",
    "api",
]

OPTION_TYPES: dict[str, type] = {
    "status": int,
    "retry_after": float,
    "latency": float,
    "chunks": int,
    "chunk_delay": float,
    "words": int,
    "fail_after": int,
    "dims": int,
}


def parse_path_options(text: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for part in filter(None, text.split(",")):
        key, _, value = part.partition("=")
        if key in OPTION_TYPES:
            options[key] = OPTION_TYPES[key](value)
    return options


def merged_options(request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    options = parse_path_options(request.match_info.get("options", ""))
    extra = body.get("mock")
    if isinstance(extra, dict):
        options.update({k: OPTION_TYPES[k](v) for k, v in extra.items() if k in OPTION_TYPES})
    return options


def answer_text(messages: list[Any], words: int) -> str:
    """The same prompt always gets the same answer."""
    prompt = orjson.dumps(messages)
    seed = int.from_bytes(hashlib.sha256(prompt).digest()[:4], "big")
    return " ".join(WORDS[(seed + i * 7) % len(WORDS)] for i in range(words))


def count_tokens(value: Any) -> int:
    """A rough, deterministic token count: whitespace-separated words in every string."""
    if isinstance(value, str):
        return max(len(value.split()), 1)
    if isinstance(value, list):
        return sum(count_tokens(v) for v in value)
    if isinstance(value, dict):
        return sum(count_tokens(v) for v in value.values())
    return 0


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self.streams_completed = 0
        self.streams_aborted = 0
        self.by_path: dict[str, int] = {}

    def enter(self, path: str) -> None:
        self.requests += 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        self.by_path[path] = self.by_path.get(path, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "in_flight": self.in_flight,
            "peak_in_flight": self.peak_in_flight,
            "streams_completed": self.streams_completed,
            "streams_aborted": self.streams_aborted,
            "by_path": self.by_path,
        }


def error_response(status: int, retry_after: float | None) -> web.Response:
    kinds = {
        400: ("invalid_request_error", "invalid_request"),
        401: ("invalid_request_error", "invalid_api_key"),
        429: ("rate_limit_error", "rate_limit_exceeded"),
    }
    kind, code = kinds.get(status, ("server_error", "mock_failure"))
    body = {
        "error": {
            "message": f"mock upstream failure {status}",
            "type": kind,
            "param": None,
            "code": code,
        }
    }
    headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
    )


def completion_id(created: int, text: str) -> str:
    return "chatcmpl-mock-" + hashlib.sha256(f"{created}{text}".encode()).hexdigest()[:12]


async def chat(request: web.Request) -> web.StreamResponse:
    stats: Stats = request.app["stats"]
    stats.enter("chat")
    try:
        body = orjson.loads(await request.read())
        options = merged_options(request, body)
        if options.get("latency"):
            await asyncio.sleep(options["latency"])
        if options.get("status"):
            return error_response(options["status"], options.get("retry_after"))
        messages = body.get("messages", [])
        text = answer_text(messages, options.get("words", 12))
        prompt_tokens = count_tokens(messages)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(text.split()),
            "total_tokens": prompt_tokens + len(text.split()),
        }
        created = int(time.time())
        model = body.get("model", "mock")
        if body.get("stream"):
            return await stream_chat(request, body, options, text, usage, created, model)
        payload = {
            "id": completion_id(created, text),
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": usage,
        }
        return web.Response(body=orjson.dumps(payload), content_type="application/json")
    finally:
        stats.in_flight -= 1


def split_text(text: str, pieces: int) -> list[str]:
    words = text.split(" ")
    pieces = max(1, min(pieces, len(words)))
    size, extra = divmod(len(words), pieces)
    out, start = [], 0
    for i in range(pieces):
        end = start + size + (1 if i < extra else 0)
        chunk = " ".join(words[start:end])
        out.append(chunk if i == 0 else " " + chunk)
        start = end
    return out


async def stream_chat(
    request: web.Request,
    body: dict[str, Any],
    options: dict[str, Any],
    text: str,
    usage: dict[str, int],
    created: int,
    model: str,
) -> web.StreamResponse:
    stats: Stats = request.app["stats"]
    chunks = options.get("chunks", 8)
    delay = options.get("chunk_delay", 0.0)
    fail_after = options.get("fail_after")
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    base = {
        "id": completion_id(created, text),
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
    }

    def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
        chunk = {
            **base,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            chunk["usage"] = None
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    try:
        await response.write(event({"role": "assistant", "content": ""}))
        for index, piece in enumerate(split_text(text, chunks)):
            if fail_after is not None and index >= fail_after:
                request.transport.close()  # a broken upstream: no end of stream
                stats.streams_aborted += 1
                return response
            if delay:
                await asyncio.sleep(delay)
            await response.write(event({"content": piece}))
        await response.write(event({}, "stop"))
        if include_usage:
            tail = {**base, "choices": [], "usage": usage}
            await response.write(b"data: " + orjson.dumps(tail) + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        stats.streams_completed += 1
    except (ConnectionResetError, asyncio.CancelledError):
        stats.streams_aborted += 1
        raise
    return response


async def embeddings(request: web.Request) -> web.Response:
    stats: Stats = request.app["stats"]
    stats.enter("embeddings")
    try:
        body = orjson.loads(await request.read())
        options = merged_options(request, body)
        if options.get("latency"):
            await asyncio.sleep(options["latency"])
        if options.get("status"):
            return error_response(options["status"], options.get("retry_after"))
        inputs = body.get("input")
        inputs = [inputs] if isinstance(inputs, str) else list(inputs or [])
        dims = body.get("dimensions") or options.get("dims", 8)
        data = []
        for index, item in enumerate(inputs):
            digest = hashlib.sha256(orjson.dumps(item)).digest()
            vector = [round((digest[i % 32] - 128) / 128, 6) for i in range(dims)]
            data.append({"object": "embedding", "index": index, "embedding": vector})
        tokens = count_tokens(inputs)
        payload = {
            "object": "list",
            "data": data,
            "model": body.get("model", "mock"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return web.Response(body=orjson.dumps(payload), content_type="application/json")
    finally:
        stats.in_flight -= 1


async def models(request: web.Request) -> web.Response:
    payload = {
        "object": "list",
        "data": [{"id": "mock-gpt", "object": "model", "created": 0, "owned_by": "mock"}],
    }
    return web.Response(body=orjson.dumps(payload), content_type="application/json")


async def stats_view(request: web.Request) -> web.Response:
    return web.Response(
        body=orjson.dumps(request.app["stats"].as_dict()), content_type="application/json"
    )


async def reset_view(request: web.Request) -> web.Response:
    request.app["stats"].reset()
    return web.Response(status=204)


def make_app() -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app["stats"] = Stats()
    for prefix in ("", "/mock/{options}"):
        app.router.add_post(prefix + "/v1/chat/completions", chat)
        app.router.add_post(prefix + "/v1/embeddings", embeddings)
        app.router.add_get(prefix + "/v1/models", models)
    app.router.add_get("/mock/stats", stats_view)
    app.router.add_post("/mock/reset", reset_view)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args()
    web.run_app(
        make_app(),
        host=args.host,
        port=args.port,
        access_log=None,
        print=lambda *_: print(f"mock upstream on http://{args.host}:{args.port}/v1", flush=True),
    )


if __name__ == "__main__":
    main()
