"""OpenAI embeddings requests as Vertex ``predict`` calls on text-embedding models, and back."""

from __future__ import annotations

import base64
import struct
from typing import Any

import orjson

from gateway_core.api import InvalidRequest, ProviderCall, UpstreamError
from gateway_vertex.config import VertexConfig


def embedding_inputs(body: dict[str, Any]) -> list[str]:
    """The texts to embed; Vertex reads text only, so token-id inputs are refused."""
    value = body.get("input")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return value
    raise InvalidRequest(
        "Vertex AI embeds text: 'input' must be a string or an array of strings.", param="input"
    )


def batches(texts: list[str], size: int) -> list[list[str]]:
    return [texts[start : start + size] for start in range(0, len(texts), size)]


def predict_request(texts: list[str], body: dict[str, Any], config: VertexConfig) -> bytes:
    instance_extra = {}
    if config.embedding_task_type is not None:
        instance_extra["task_type"] = config.embedding_task_type
    parameters: dict[str, Any] = {}
    if body.get("dimensions") is not None:
        parameters["outputDimensionality"] = body["dimensions"]
    if config.embedding_auto_truncate is not None:
        parameters["autoTruncate"] = config.embedding_auto_truncate
    request: dict[str, Any] = {"instances": [{"content": t, **instance_extra} for t in texts]}
    if parameters:
        request["parameters"] = parameters
    return orjson.dumps(request)


def read_predictions(
    answer: dict[str, Any], expected: int, deployment: str
) -> list[tuple[list[float], int]]:
    """(vector, token count) per instance, in order."""
    predictions = answer.get("predictions")
    found = []
    for prediction in predictions if isinstance(predictions, list) else []:
        embeddings = prediction.get("embeddings") if isinstance(prediction, dict) else None
        values = embeddings.get("values") if isinstance(embeddings, dict) else None
        if not isinstance(values, list) or not values:
            break
        statistics = embeddings.get("statistics")
        tokens = statistics.get("token_count") if isinstance(statistics, dict) else None
        found.append((values, int(tokens) if isinstance(tokens, int | float) else 0))
    if len(found) != expected:
        raise UpstreamError(
            f"Deployment {deployment} returned {len(found)} embeddings for {expected} inputs"
        )
    return found


def embeddings_response(
    vectors: list[tuple[list[float], int]], body: dict[str, Any], call: ProviderCall
) -> bytes:
    as_base64 = body.get("encoding_format") == "base64"
    tokens = sum(count for _values, count in vectors)
    data = [
        {
            "object": "embedding",
            "index": index,
            "embedding": _packed(values) if as_base64 else values,
        }
        for index, (values, _count) in enumerate(vectors)
    ]
    return orjson.dumps(
        {
            "object": "list",
            "data": data,
            "model": call.public_model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


def _packed(values: list[float]) -> str:
    """OpenAI's base64 encoding: little-endian float32s."""
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
