"""Embeddings: which format a model takes, its request bodies, and OpenAI's list back."""

from __future__ import annotations

import base64
import struct
from typing import Any

import orjson
import pytest
from gateway_bedrock.config import BedrockConfig
from gateway_bedrock.embeddings import (
    cohere_requests,
    cohere_vectors,
    embedding_family,
    embedding_inputs,
    embeddings_reply,
    titan_request,
    titan_vector,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_core.api import InvalidRequest, ProviderCall, UpstreamError


def config(model: str, **keys: Any) -> BedrockConfig:
    return BedrockConfig(model=model, region="us-east-1", **keys)


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("amazon.titan-embed-text-v2:0", "titan"),
        ("amazon.titan-embed-text-v1", "titan"),
        ("cohere.embed-english-v3", "cohere"),
        ("us.cohere.embed-v4:0", "cohere"),
        ("arn:aws:bedrock:us-east-1::foundation-model/cohere.embed-multilingual-v3", "cohere"),
        ("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc", None),
        ("anthropic.claude-3-haiku-20240307-v1:0", None),
    ],
)
def test_the_family_is_told_by_the_model_id(model: str, family: str | None) -> None:
    assert embedding_family(config(model)) == family


def test_a_configured_family_wins() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"
    assert embedding_family(config(arn, embedding_format="titan")) == "titan"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": [1, 2, 3]}, "input"),
        ({"input": [[1, 2]]}, "input"),
        ({"input": []}, "input"),
        ({"input": ["ok", ""]}, "input"),
        ({"input": "ok", "encoding_format": "int8"}, "encoding_format"),
    ],
)
def test_inputs_bedrock_cannot_embed_are_refused(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        embedding_inputs(body)
    assert caught.value.param == param


def test_titan_bodies_and_dimensions() -> None:
    assert orjson.loads(titan_request("hello", {})) == {"inputText": "hello"}
    assert orjson.loads(titan_request("hello", {"dimensions": 256})) == {
        "inputText": "hello",
        "dimensions": 256,
    }
    with pytest.raises(InvalidRequest) as caught:
        titan_request("hello", {"dimensions": 300})
    assert caught.value.param == "dimensions"


def test_cohere_batches_of_at_most_96_in_order() -> None:
    texts = [f"text {n}" for n in range(200)]
    bodies = [
        orjson.loads(b) for b in cohere_requests(texts, {}, config("cohere.embed-english-v3"))
    ]
    assert [len(b["texts"]) for b in bodies] == [96, 96, 8]
    assert [t for b in bodies for t in b["texts"]] == texts
    assert {b["input_type"] for b in bodies} == {"search_document"}
    assert all("truncate" not in b for b in bodies)
    tuned = config(
        "cohere.embed-english-v3", cohere_input_type="search_query", cohere_truncate="END"
    )
    (body,) = [orjson.loads(b) for b in cohere_requests(["q"], {}, tuned)]
    assert (body["input_type"], body["truncate"]) == ("search_query", "END")
    with pytest.raises(InvalidRequest):
        cohere_requests(["q"], {"dimensions": 256}, tuned)


def test_answers_are_read_in_both_cohere_shapes() -> None:
    headers = {"x-amzn-bedrock-input-token-count": "7"}
    floats = {"embeddings": [[0.1, 0.2], [0.3, 0.4]], "response_type": "embeddings_floats"}
    by_type = {"embeddings": {"float": [[0.1, 0.2], [0.3, 0.4]]}}
    assert cohere_vectors(floats, headers, 2, "d") == ([[0.1, 0.2], [0.3, 0.4]], 7)
    assert cohere_vectors(by_type, {}, 2, "d") == ([[0.1, 0.2], [0.3, 0.4]], 0)
    with pytest.raises(UpstreamError):
        cohere_vectors(floats, headers, 3, "d")
    assert titan_vector({"embedding": [0.5, -1], "inputTextTokenCount": 3}, "d") == ([0.5, -1], 3)
    with pytest.raises(UpstreamError):
        titan_vector({"embedding": []}, "d")


finite = st.floats(width=32, allow_nan=False, allow_infinity=False)


@settings(deadline=None)
@given(vectors=st.lists(st.lists(finite, min_size=1, max_size=8), min_size=1, max_size=4))
def test_base64_replies_decode_to_the_same_float32_values(vectors: list[list[float]]) -> None:
    body = {"input": ["x"] * len(vectors), "encoding_format": "base64"}
    call = ProviderCall("embeddings", body, orjson.dumps(body), "titan", False, "r1")
    reply = orjson.loads(embeddings_reply(vectors, 9, call))
    assert reply["usage"] == {"prompt_tokens": 9, "total_tokens": 9}
    for item, vector in zip(reply["data"], vectors, strict=True):
        raw = base64.b64decode(item["embedding"])
        assert list(struct.unpack(f"<{len(vector)}f", raw)) == vector


def test_float_replies_list_each_vector_with_its_index() -> None:
    call = ProviderCall("embeddings", {"input": ["a", "b"]}, b"{}", "titan", False, "r1")
    reply = orjson.loads(embeddings_reply([[0.5], [0.25]], 4, call))
    assert reply == {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 0, "embedding": [0.5]},
            {"object": "embedding", "index": 1, "embedding": [0.25]},
        ],
        "model": "titan",
        "usage": {"prompt_tokens": 4, "total_tokens": 4},
    }
