"""OpenAI embeddings requests as InvokeModel bodies for Titan and Cohere, and back (no I/O).

Bedrock has no common embeddings API: each model family takes its own JSON. Titan embeds one
text per call (the adapter sends one call per input, a few at a time); Cohere takes up to 96
texts per call and needs an ``input_type``, which OpenAI requests do not carry, so it comes
from the deployment's config.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping
from typing import Any, Literal

import orjson

from gateway_bedrock.config import BedrockConfig
from gateway_core.api import InvalidRequest, ProviderCall, UpstreamError

Family = Literal["titan", "cohere"]
TITAN_DIMENSIONS = (256, 512, 1024)
COHERE_BATCH = 96
INPUT_TOKENS_HEADER = "x-amzn-bedrock-input-token-count"


def embedding_family(config: BedrockConfig) -> Family | None:
    """The request format of the deployment's model: configured, or told by its id."""
    if config.embedding_format is not None:
        return config.embedding_format
    model = config.model.lower()
    if "titan-embed" in model:
        return "titan"
    if "cohere.embed" in model:
        return "cohere"
    return None


def embedding_inputs(body: dict[str, Any]) -> list[str]:
    """The texts to embed; token-id inputs are refused (Bedrock models read text)."""
    value = body.get("input")
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise InvalidRequest(
            "AWS Bedrock embeds text: 'input' must be a string or a list of strings.",
            param="input",
        )
    if any(not text for text in texts):
        raise InvalidRequest("'input' must not contain empty strings.", param="input")
    encoding = body.get("encoding_format")
    if encoding not in (None, "float", "base64"):
        raise InvalidRequest(
            "'encoding_format' must be 'float' or 'base64'.", param="encoding_format"
        )
    return texts


def titan_request(text: str, body: dict[str, Any]) -> bytes:
    request: dict[str, Any] = {"inputText": text}
    dimensions = body.get("dimensions")
    if dimensions is not None:
        if dimensions not in TITAN_DIMENSIONS or isinstance(dimensions, bool):
            raise InvalidRequest(
                "Titan embeddings come in 256, 512 or 1024 dimensions.", param="dimensions"
            )
        request["dimensions"] = dimensions
    return orjson.dumps(request)


def cohere_requests(texts: list[str], body: dict[str, Any], config: BedrockConfig) -> list[bytes]:
    """One body per batch of at most :data:`COHERE_BATCH` texts, in order."""
    if body.get("dimensions") is not None:
        raise InvalidRequest(
            "Cohere embedding models on Bedrock have a fixed size; leave out 'dimensions'.",
            param="dimensions",
        )
    requests = []
    for start in range(0, len(texts), COHERE_BATCH):
        request: dict[str, Any] = {
            "texts": texts[start : start + COHERE_BATCH],
            "input_type": config.cohere_input_type,
        }
        if config.cohere_truncate is not None:
            request["truncate"] = config.cohere_truncate
        requests.append(orjson.dumps(request))
    return requests


def titan_vector(answer: Any, deployment: str) -> tuple[list[float], int]:
    """(vector, input tokens) from a Titan answer."""
    vector = answer.get("embedding") if isinstance(answer, dict) else None
    if not _is_vector(vector):
        raise UpstreamError(f"Deployment {deployment} answered without an embedding")
    tokens = answer.get("inputTextTokenCount")
    return vector, tokens if isinstance(tokens, int) else 0


def cohere_vectors(
    answer: Any, headers: Mapping[str, str], expected: int, deployment: str
) -> tuple[list[list[float]], int]:
    """(vectors, input tokens) from a Cohere answer; tokens come from a response header."""
    vectors = answer.get("embeddings") if isinstance(answer, dict) else None
    if isinstance(vectors, dict):  # the by-type shape, when embedding_types was asked for
        vectors = vectors.get("float")
    if not isinstance(vectors, list) or len(vectors) != expected:
        raise UpstreamError(f"Deployment {deployment} answered with the wrong number of vectors")
    if not all(_is_vector(vector) for vector in vectors):
        raise UpstreamError(f"Deployment {deployment} answered with malformed embeddings")
    count = headers.get(INPUT_TOKENS_HEADER, "")
    return vectors, int(count) if count.isdigit() else 0


def embeddings_reply(vectors: list[list[float]], tokens: int, call: ProviderCall) -> bytes:
    """OpenAI's embeddings list, as floats or, when asked, base64 float32 (the SDK default)."""
    as_base64 = call.body.get("encoding_format") == "base64"
    data = [
        {
            "object": "embedding",
            "index": index,
            "embedding": _base64(vector) if as_base64 else vector,
        }
        for index, vector in enumerate(vectors)
    ]
    return orjson.dumps(
        {
            "object": "list",
            "data": data,
            "model": call.public_model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


def _base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def _is_vector(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )
