"""Real HTTP through the gateway against recorded and built Bedrock exchanges.

The YAML cases in fixtures/ cover plain Converse calls and errors. The cases built here cover
what YAML cannot hold: binary ConverseStream frames (with real CRC32s, cut across network
reads, broken, or carrying an exception), and credentials from the environment, a shared
profile and an assumed role. Every SigV4-signed request the upstream receives is verified
again with botocore's signer, from the bytes that arrived.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
import pytest
from bedrock_frames import event, exception, text_stream, tool_stream
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from gateway_core.testing import ContractCase, ContractKit, ReceivedRequest, load_cases

pytestmark = pytest.mark.e2e

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
HAIKU_PATH = "/model/anthropic.claude-3-haiku-20240307-v1%3A0"
PROFILE_ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/k3x9p2"
ARN_PATH = (
    "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fk3x9p2"
)
EVENT_STREAM = "application/vnd.amazon.eventstream"

KEYS = ReadOnlyCredentials("AKIDBEDROCKTEST1", "bedrock-test-secret-7Hq2Lx", None)
SESSION = ReadOnlyCredentials("ASIABEDROCKTEST2", "bedrock-session-secret-4Rt8", "bedrock-tok-9Zp")
ENVIRONMENT = ReadOnlyCredentials("AKIDFROMENVIRON3", "env-chain-secret-2Vb6", "env-chain-tok-8Km")
PROFILE = ReadOnlyCredentials("AKIDFROMPROFILE4", "profile-secret-5Ns1", None)
ASSUMED = ReadOnlyCredentials("ASIAASSUMEDROLE5", "assumed-secret-3Jw7", "assumed-tok-6Qd4")
API_KEY = "bedrock-api-key-ABSKQmVkcm9ja0FQSUtleQ"
LEAKABLE = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN1234"  # quoted by AWS in invalid_signature.yaml
ROLE_ARN = "arn:aws:iam::123456789012:role/bedrock-invoker"


def bedrock(model: str = HAIKU, keys: ReadOnlyCredentials | None = KEYS, **more: Any):
    deployment: dict[str, Any] = {
        "provider": "bedrock",
        "model": model,
        "region": "us-east-1",
        "endpoint_url": "{upstream}",
        **more,
    }
    if keys is not None:
        deployment["aws_access_key_id"] = keys.access_key
        deployment["aws_secret_access_key"] = keys.secret_key
        if keys.token:
            deployment["aws_session_token"] = keys.token
    return deployment


DEPLOYMENTS = {
    "haiku": bedrock(),
    "haiku-clamp": bedrock(temperature_above_one="clamp"),
    "haiku-session": bedrock(keys=SESSION),
    "profile-arn": bedrock(PROFILE_ARN),
    "api-key": bedrock(keys=None, api_key=API_KEY),
    "environment": bedrock(keys=None),
    "shared-profile": bedrock(keys=None, profile="bedrock-team"),
    "assumed-role": bedrock(
        keys=KEYS, role_arn=ROLE_ARN, external_id="ext-7731", sts_endpoint_url="{upstream}/sts"
    ),
    "titan": bedrock("amazon.titan-embed-text-v2:0"),
    "cohere": bedrock("cohere.embed-english-v3", cohere_input_type="search_query"),
}
#: Who signs each deployment's Bedrock requests.
SIGNERS = {
    "haiku": KEYS,
    "haiku-clamp": KEYS,
    "haiku-session": SESSION,
    "profile-arn": KEYS,
    "environment": ENVIRONMENT,
    "shared-profile": PROFILE,
    "assumed-role": ASSUMED,
    "titan": KEYS,
    "cohere": KEYS,
}


def signature_problems(received: ReceivedRequest, signer: ReadOnlyCredentials) -> list[str]:
    """Recompute the SigV4 signature of the request exactly as it arrived, with botocore."""
    authorization = received.headers.get("authorization", "")
    found = re.search(r"SignedHeaders=([^,]+)", authorization)
    if found is None:
        return [f"not SigV4-signed: {authorization[:20]!r}"]
    names = found.group(1).split(";")
    headers = {
        name: received.headers[name]
        for name in names
        if name not in ("x-amz-date", "x-amz-security-token")
    }
    stamp = datetime.datetime.strptime(received.headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
    again = AWSRequest(
        method=received.method,
        url=f"http://{received.headers['host']}{received.path}",
        data=received.body,
        headers=headers,
    )
    verifier = SigV4Auth(signer, "bedrock", "us-east-1")
    with mock.patch("botocore.auth.get_current_datetime", return_value=stamp):
        verifier.add_auth(again)
    problems = []
    if again.headers["Authorization"] != authorization:
        problems.append(f"signature of {received.path} does not verify")
    if received.headers.get("x-amz-security-token") != signer.token:
        problems.append("the security token is missing or wrong")
    if "%3A" in received.path and "%253A" not in verifier.canonical_request(again):
        problems.append("the canonical request did not encode the path twice")
    return problems


# -- cases built in Python -------------------------------------------------------------------


def frames(*parts: bytes) -> bytes:
    return b"".join(parts)


def stream_exchange(pieces: Any, path: str = HAIKU_PATH, **stream: Any) -> dict[str, Any]:
    return {
        "request": {
            "path": f"{path}/converse-stream",
            "headers": {"accept": EVENT_STREAM, "content-type": "application/json"},
        },
        "response": {
            "headers": {"content-type": EVENT_STREAM},
            "stream": {"builder": pieces, **stream},
        },
    }


def chat(content: str = "Hi", **more: Any) -> dict[str, Any]:
    return {"body": {"messages": [{"role": "user", "content": content}], **more}}


def streaming(content: str = "Hi", usage: bool = True) -> dict[str, Any]:
    options = {"stream_options": {"include_usage": True}} if usage else {}
    return chat(content, stream=True, **options)


def converse_answer(text: str) -> dict[str, Any]:
    return {
        "json": {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5},
            "metrics": {"latencyMs": 50},
        }
    }


def sts_answer() -> str:
    return f"""<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials>
      <AccessKeyId>{ASSUMED.access_key}</AccessKeyId>
      <SecretAccessKey>{ASSUMED.secret_key}</SecretAccessKey>
      <SessionToken>{ASSUMED.token}</SessionToken>
      <Expiration>2099-01-01T00:00:00Z</Expiration>
    </Credentials>
    <AssumedRoleUser>
      <AssumedRoleId>AROAEXAMPLEID:gateway-bedrock</AssumedRoleId>
      <Arn>arn:aws:sts::123456789012:assumed-role/bedrock-invoker/gateway-bedrock</Arn>
    </AssumedRoleUser>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId></ResponseMetadata>
</AssumeRoleResponse>"""


def titan_inputs_were_each_sent_once(received: ReceivedRequest) -> None:
    body = received.json()
    assert set(body) == {"inputText"}, body
    assert body["inputText"] in {"first text", "second text", "third text"}


def titan_answer() -> bytes:
    return orjson.dumps({"embedding": [0.25, -0.5, 0.125], "inputTextTokenCount": 2})


def corrupted() -> bytes:
    whole = bytearray(frames(*text_stream("Hello")))
    whole[-3] ^= 0xFF  # the last message's checksum no longer matches
    return bytes(whole)


BUILT = [
    {
        "name": "stream_text_split_every_7_bytes",
        "description": "A text stream cut into 7-byte pieces, so every frame spans reads.",
        "send": streaming("Say hello."),
        "upstream": [stream_exchange(lambda: frames(*text_stream("Hello there")), split_every=7)],
        "expect": {
            "content": "Hello there",
            "finish_reason": "stop",
            "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18},
        },
    },
    {
        "name": "stream_without_usage",
        "description": "No usage chunk unless the client asked for it.",
        "send": streaming(usage=False),
        "upstream": [stream_exchange(lambda: text_stream("Hi"))],
        "expect": {"content": "Hi", "finish_reason": "stop"},
    },
    {
        "name": "stream_tool_call",
        "description": "Tool call fragments, frames cut at uneven offsets.",
        "send": {
            "body": {
                **streaming("Weather?")["body"],
                "tools": [{"type": "function", "function": {"name": "get_weather"}}],
            }
        },
        "upstream": [
            stream_exchange(lambda: frames(*tool_stream()), split_at=[3, 100, 101, 250, 777])
        ],
        "expect": {
            "content": "Checking.",
            "finish_reason": "tool_calls",
            "tool_calls": [
                {"name": "get_weather", "id": "tooluse_w3Kq8", "arguments": {"city": "Paris"}}
            ],
            "usage": {"total_tokens": 470},
        },
    },
    {
        "name": "stream_exception_mid_stream",
        "description": "A throttling exception after text has gone out ends in an error event.",
        "send": streaming(),
        "upstream": [
            stream_exchange(
                lambda: [
                    frames(*text_stream("Partial")[:2]),
                    exception("throttlingException", "Too many tokens, please wait."),
                ],
                delay=0.2,
            )
        ],
        "expect": {
            "content": "Partial",
            "stream_error": {"type": "rate_limit_error", "code": "rate_limit_exceeded"},
        },
    },
    {
        "name": "stream_exception_before_any_text",
        "description": "An exception before anything was sent is an ordinary 429: retryable.",
        "send": streaming(),
        "upstream": [
            stream_exchange(
                lambda: frames(
                    event("messageStart", {"role": "assistant"}),
                    exception("throttlingException", "Too many requests."),
                )
            )
        ],
        "expect": {
            "status": 429,
            "headers": {"retry-after": "2"},
            "error": {"code": "rate_limit_exceeded", "message_contains": "Too many requests"},
        },
    },
    {
        "name": "stream_refused_before_it_starts",
        "description": "Errors found before streaming come back as JSON with a status.",
        "send": streaming(),
        "upstream": [
            {
                "request": {"path": f"{HAIKU_PATH}/converse-stream"},
                "response": {
                    "status": 400,
                    "headers": {"x-amzn-ErrorType": "ValidationException"},
                    "json": {"message": "messages: conversation must alternate"},
                },
            }
        ],
        "expect": {"status": 400, "error": {"message_contains": "must alternate"}},
    },
    {
        "name": "stream_cut_short",
        "description": "The upstream drops the connection before metadata: an error event.",
        "send": streaming(),
        "upstream": [stream_exchange(lambda: text_stream("Hello"), break_after=2, delay=0.1)],
        "expect": {"stream_error": {"code": "upstream_error"}},
    },
    {
        "name": "stream_corrupt_checksum",
        "description": "A frame whose CRC does not match is never read as content.",
        "send": streaming(),
        "upstream": [stream_exchange(lambda: [corrupted()[:200], corrupted()[200:]], delay=0.1)],
        "expect": {"stream_error": {"code": "upstream_error", "message_contains": "checksum"}},
    },
    {
        "name": "inference_profile_arn",
        "deployment": "profile-arn",
        "description": "An ARN is one path segment: ':' and '/' percent-encoded, signed encoded.",
        "send": chat(),
        "upstream": [
            {"request": {"path": f"{ARN_PATH}/converse"}, "response": converse_answer("Hey")}
        ],
        "expect": {"content": "Hey"},
    },
    {
        "name": "stream_inference_profile_arn",
        "deployment": "profile-arn",
        "description": "The same ARN on the streaming path.",
        "send": streaming(),
        "upstream": [stream_exchange(lambda: text_stream("Hey"), path=ARN_PATH)],
        "expect": {"content": "Hey"},
    },
    {
        "name": "session_token",
        "deployment": "haiku-session",
        "description": "Temporary keys send and sign X-Amz-Security-Token.",
        "send": chat(),
        "upstream": [
            {
                "request": {
                    "path": f"{HAIKU_PATH}/converse",
                    "headers": {"x-amz-security-token": SESSION.token},
                    "header_patterns": {
                        "authorization": ".*SignedHeaders=accept;content-type;host;x-amz-date;"
                        "x-amz-security-token,.*"
                    },
                },
                "response": converse_answer("Hi"),
            }
        ],
        "expect": {"content": "Hi"},
    },
    {
        "name": "bedrock_api_key",
        "deployment": "api-key",
        "description": "A Bedrock API key is a bearer token; nothing is SigV4-signed.",
        "send": chat(),
        "upstream": [
            {
                "request": {
                    "path": f"{HAIKU_PATH}/converse",
                    "headers": {"authorization": f"Bearer {API_KEY}"},
                    "absent_headers": ["x-amz-date", "x-amz-security-token"],
                },
                "response": converse_answer("Keyed"),
            }
        ],
        "expect": {"content": "Keyed"},
    },
    {
        "name": "credentials_from_the_environment",
        "deployment": "environment",
        "description": "No keys in the config: botocore's chain finds the environment's.",
        "send": chat(),
        "upstream": [
            {"request": {"path": f"{HAIKU_PATH}/converse"}, "response": converse_answer("E")}
        ],
        "expect": {"content": "E"},
    },
    {
        "name": "credentials_from_a_shared_profile",
        "deployment": "shared-profile",
        "description": "A named profile from the shared credentials file.",
        "send": chat(),
        "upstream": [
            {"request": {"path": f"{HAIKU_PATH}/converse"}, "response": converse_answer("P")}
        ],
        "expect": {"content": "P"},
    },
    {
        "name": "assumed_role",
        "deployment": "assumed-role",
        "description": "The configured keys call STS AssumeRole; the role's keys sign Bedrock.",
        "send": chat(),
        "upstream": [
            {
                "request": {
                    "method": "POST",
                    "path": "/sts",
                    "form": {
                        "Action": "AssumeRole",
                        "RoleArn": ROLE_ARN,
                        "RoleSessionName": "gateway-bedrock",
                        "ExternalId": "ext-7731",
                    },
                    "header_patterns": {
                        "authorization": f"AWS4-HMAC-SHA256 Credential={KEYS.access_key}/"
                        r"\d{8}/us-east-1/sts/aws4_request, .*"
                    },
                },
                "response": {"headers": {"content-type": "text/xml"}, "text": sts_answer()},
            },
            {"request": {"path": f"{HAIKU_PATH}/converse"}, "response": converse_answer("Role")},
        ],
        "expect": {"content": "Role"},
    },
    {
        "name": "embeddings_titan_one_call_per_input",
        "deployment": "titan",
        "description": "Titan embeds one text per InvokeModel; the SDK asks for base64.",
        "send": {
            "operation": "embeddings",
            # What the openai SDK sends when encoding_format is not given; the kit judges the
            # reply by the case's body, so it is spelled out.
            "body": {
                "input": ["first text", "second text", "third text"],
                "encoding_format": "base64",
            },
        },
        "upstream": [
            {
                "request": {
                    "path": "/model/amazon.titan-embed-text-v2%3A0/invoke",
                    "headers": {"accept": "application/json"},
                    "check": titan_inputs_were_each_sent_once,
                },
                "response": {"builder": titan_answer},
                "times": 3,
            }
        ],
        "expect": {"embeddings": 3, "dimensions": 3, "usage": {"prompt_tokens": 6}},
    },
    {
        "name": "embeddings_titan_floats_and_dimensions",
        "deployment": "titan",
        "description": "Floats on request, and dimensions passed to Titan V2.",
        "send": {
            "operation": "embeddings",
            "body": {"input": "hello world", "encoding_format": "float", "dimensions": 256},
        },
        "upstream": [
            {
                "request": {
                    "path": "/model/amazon.titan-embed-text-v2%3A0/invoke",
                    "json": {"inputText": "hello world", "dimensions": 256},
                },
                "response": {"builder": titan_answer},
            }
        ],
        "expect": {
            "body": {"data": [{"embedding": [0.25, -0.5, 0.125]}]},
            "usage": {"prompt_tokens": 2, "total_tokens": 2},
        },
    },
    {
        "name": "embeddings_cohere_batch",
        "deployment": "cohere",
        "description": "Cohere embeds a batch per call, with the configured input_type.",
        "send": {
            "operation": "embeddings",
            "body": {"input": ["hello world", "goodbye"], "encoding_format": "float"},
        },
        "upstream": [
            {
                "request": {
                    "path": "/model/cohere.embed-english-v3/invoke",
                    "json": {"texts": ["hello world", "goodbye"], "input_type": "search_query"},
                    "absent_keys": ["truncate"],
                },
                "response": {
                    "headers": {"X-Amzn-Bedrock-Input-Token-Count": "4"},
                    "json": {
                        "id": "5f6a2f4e-2c1b-4d8e-9b7a-1a2b3c4d5e6f",
                        "response_type": "embeddings_floats",
                        "embeddings": [[0.0123, -0.0456], [-0.0012, 0.0345]],
                        "texts": ["hello world", "goodbye"],
                    },
                },
            }
        ],
        "expect": {"embeddings": 2, "dimensions": 2, "usage": {"prompt_tokens": 4}},
    },
    {
        "name": "embeddings_token_ids_refused",
        "deployment": "titan",
        "description": "Bedrock embeds text; token-id input is a 400 before any call.",
        "send": {"operation": "embeddings", "body": {"input": [[101, 2023, 102]]}},
        "upstream": [],
        "expect": {"status": 400, "error": {"param": "input"}},
    },
]

CASES = load_cases(Path(__file__).parent / "fixtures") + [
    ContractCase.model_validate(case) for case in BUILT
]


@pytest.fixture(scope="module")
def kit(contract_kit, tmp_path_factory: pytest.TempPathFactory) -> ContractKit:
    aws = tmp_path_factory.mktemp("aws")
    (aws / "credentials").write_text(
        f"[bedrock-team]\naws_access_key_id = {PROFILE.access_key}\n"
        f"aws_secret_access_key = {PROFILE.secret_key}\n"
    )
    (aws / "config").write_text("[default]\nregion = eu-west-3\n")
    environment = {
        "AWS_ACCESS_KEY_ID": ENVIRONMENT.access_key,
        "AWS_SECRET_ACCESS_KEY": ENVIRONMENT.secret_key,
        "AWS_SESSION_TOKEN": ENVIRONMENT.token,
        "AWS_SHARED_CREDENTIALS_FILE": str(aws / "credentials"),
        "AWS_CONFIG_FILE": str(aws / "config"),
        "AWS_EC2_METADATA_DISABLED": "true",  # never reach for an instance metadata service
    }
    secrets = [
        *(c.secret_key for c in (ENVIRONMENT, PROFILE, ASSUMED)),
        ENVIRONMENT.token,
        ASSUMED.token,
        LEAKABLE,
    ]
    return contract_kit(
        plugins=["bedrock"], deployments=DEPLOYMENTS, cases=CASES, secrets=secrets, env=environment
    )


@pytest.mark.parametrize("case", CASES, ids=str)
def test_contract_case(kit: ContractKit, case: ContractCase) -> None:
    result = kit.check(case)
    signer = SIGNERS.get(case.deployment or "haiku")
    for exchange, received in zip(case.upstream, result.received, strict=True):
        path = exchange.request.path or ""
        if signer is None or not path.startswith("/model/"):
            continue
        for request in received:
            assert signature_problems(request, signer) == []


def test_the_signature_check_catches_a_tampered_request(kit: ContractKit) -> None:
    """The re-verification above is not vacuous: change one body byte and it fails."""
    case = next(case for case in CASES if case.name == "inference_profile_arn")
    (request,) = kit.check(case).requests(0)
    assert "%3A" in request.path and "%2F" in request.path
    assert signature_problems(request, KEYS) == []
    tampered = ReceivedRequest(
        request.method, request.path, request.query, request.headers, request.body + b" "
    )
    assert signature_problems(tampered, KEYS) == [
        "signature of " + request.path + " does not verify"
    ]
    assert signature_problems(request, ENVIRONMENT) != []


def test_concurrent_first_requests_share_one_assume_role(tmp_path: Path) -> None:
    """Twelve requests arrive before any credentials exist: STS is called once, off the loop."""
    from concurrent.futures import ThreadPoolExecutor

    from gateway_core.testing import Exchange

    sts = Exchange.model_validate(
        {
            "request": {"path": "/sts"},
            # A slow STS widens the window in which requests pile up behind the first one.
            "response": {
                "delay": 0.5,
                "headers": {"content-type": "text/xml"},
                "text": sts_answer(),
            },
            "times": None,
        }
    )
    converse = Exchange.model_validate(
        {
            "request": {"path": f"{HAIKU_PATH}/converse"},
            "response": converse_answer("fine"),
            "times": None,
        }
    )
    deployments = {"role": DEPLOYMENTS["assumed-role"]}
    with ContractKit(plugins=["bedrock"], deployments=deployments, directory=tmp_path) as kit:
        armed = kit.upstream.arm([sts, converse])
        client = kit.client()

        def ask(number: int) -> str | None:
            reply = client.chat.completions.create(
                model=kit.model("role"), messages=[{"role": "user", "content": str(number)}]
            )
            return reply.choices[0].message.content

        with ThreadPoolExecutor(max_workers=12) as pool:
            answers = list(pool.map(ask, range(12)))
        assert answers == ["fine"] * 12
        assert len(armed.received[0]) == 1, "one AssumeRole call served every waiting request"
        assert len(armed.received[1]) == 12
        for request in armed.received[1]:
            assert signature_problems(request, ASSUMED) == []
        assert not kit.leaks()
