"""The contract kit's fake upstream and fixture files: exact bytes out, a faithful record in."""

from __future__ import annotations

import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway_core.contract.exchanges import cut
from gateway_core.testing import Exchange, ReplayUpstream, StreamReply, load_case, load_cases


@pytest.fixture(scope="module")
def upstream() -> Iterator[ReplayUpstream]:
    with ReplayUpstream() as server:
        yield server


def exchange(**fields) -> Exchange:
    return Exchange.model_validate(fields)


def binary_frames() -> list[bytes]:
    """Length-prefixed binary messages with a checksum, in the manner of AWS event streams."""
    frames = []
    for payload in (b'{"delta":"He"}', b'{"delta":"llo"}', b"\x00\xff\r\n\r\n"):
        body = struct.pack(">I", len(payload)) + payload
        frames.append(body + struct.pack(">I", zlib.crc32(body)))
    return frames


def test_binary_pieces_from_a_builder_arrive_exactly_and_in_their_own_time(upstream) -> None:
    frames = binary_frames()
    reply = {
        "headers": {"content-type": "application/vnd.amazon.eventstream"},
        "stream": {"builder": binary_frames, "delay": 0.1},
    }
    armed = upstream.arm([exchange(response=reply)])
    arrivals = []
    with httpx.stream("POST", f"{upstream.url}/model/m/converse-stream") as response:
        assert response.headers["content-type"] == "application/vnd.amazon.eventstream"
        body = b""
        for piece in response.iter_raw():
            arrivals.append(time.monotonic())
            body += piece
    assert body == b"".join(frames)
    assert arrivals[-1] - arrivals[0] >= 0.18, "pieces were written apart, not all at once"
    assert armed.problems() == []


def test_sse_with_crlf_separators_and_no_done_marker(upstream) -> None:
    reply = {"stream": {"events": [{"a": 1}, "raw text"], "separator": "\r\n\r\n", "done": False}}
    upstream.arm([exchange(response=reply)])
    response = httpx.post(f"{upstream.url}/v1/models/g:streamGenerateContent?alt=sse")
    assert response.headers["content-type"] == "text/event-stream"
    assert response.content == b'data: {"a":1}\r\n\r\ndata: raw text\r\n\r\n'


def test_plain_bodies_statuses_and_headers(upstream) -> None:
    upstream.arm(
        [
            exchange(
                request={"path": "/json"},
                response={"status": 429, "headers": {"retry-after": "2"}, "json": {"x": [1]}},
            ),
            exchange(request={"path": "/b64"}, response={"body_base64": "AAEC/w=="}),
            exchange(request={"path": "/text"}, response={"text": "hi", "delay": 0.05}),
        ]
    )
    first = httpx.get(f"{upstream.url}/json")
    assert (first.status_code, first.headers["retry-after"], first.json()) == (429, "2", {"x": [1]})
    assert httpx.get(f"{upstream.url}/b64").content == b"\x00\x01\x02\xff"
    assert httpx.get(f"{upstream.url}/text").text == "hi"


def test_a_broken_stream_drops_the_connection(upstream) -> None:
    reply = {"stream": {"pieces": ["one ", "two ", "three"], "break_after": 2, "delay": 0.05}}
    upstream.arm([exchange(response=reply)])
    received = b""
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("POST", upstream.url) as response,
    ):
        for piece in response.iter_raw():
            received += piece
    assert received == b"one two "


def test_what_the_upstream_received_is_recorded_as_sent(upstream) -> None:
    armed = upstream.arm([exchange()])
    httpx.post(
        f"{upstream.url}/model/anthropic.claude-3-haiku%3A0/converse?x=1&y=two",
        headers={"X-Amz-Date": "20250115T120000Z"},
        content=b'{"a": 1}',
    )
    (received,) = armed.received[0]
    assert received.method == "POST"
    assert received.path == "/model/anthropic.claude-3-haiku%3A0/converse"
    assert received.query == {"x": "1", "y": "two"}
    assert received.headers["x-amz-date"] == "20250115T120000Z"
    assert received.json() == {"a": 1}
    assert received.describe() == ("POST /model/anthropic.claude-3-haiku%3A0/converse?x=1&y=two")


def test_expectations_name_each_departure(upstream) -> None:
    def signed(request) -> None:
        assert request.headers.get("x-amz-date", "").endswith("Z"), "no signing date"

    expected = exchange(
        request={
            "method": "POST",
            "path": "/token",
            "query": {"v": "1"},
            "absent_query": ["debug"],
            "headers": {"Api-Key": "k-0123456789abcdef"},
            "header_patterns": {"authorization": r"Bearer [a-z]+"},
            "absent_headers": ["cookie"],
            "form": {"grant_type": "client_credentials"},
            "check": signed,
        },
        response={"json": {}},
    )
    armed = upstream.arm([expected])
    httpx.post(
        f"{upstream.url}/token?v=2&debug=1",
        headers={
            "api-key": "k-wrong-but-long-enough",
            "authorization": "Bearer 123",
            "cookie": "c",
        },
        content=b"grant_type=password",
    )
    problems = "\n".join(armed.problems())
    assert "query v: expected '1', got '2'" in problems
    assert "query debug: should be absent" in problems
    assert "header api-key: expected 'k-012345...(18 chars)'" in problems
    assert "k-wrong-but" not in problems, "header values are masked: they may be credentials"
    assert "does not match 'Bearer [a-z]+'" in problems
    assert "header cookie: should be absent" in problems
    assert 'form.grant_type: expected "client_credentials", got "password"' in problems
    assert "check signed: no signing date" in problems


def test_json_bodies_are_compared_as_subsets(upstream) -> None:
    expected = exchange(
        request={"json": {"model": "m", "messages": [{"role": "user"}]}, "absent_keys": ["user"]}
    )
    armed = upstream.arm([expected])
    sent = {"model": "n", "messages": [{"role": "user", "x": 1}], "user": "u"}
    httpx.post(upstream.url, json=sent)
    where = "upstream exchange 0 (any method any path), request 0 (POST /)"
    assert armed.problems() == [
        f'{where}: json.model: expected "m", got "n"',
        f"{where}: json.user: should be absent",
    ]


def test_exchanges_answer_as_many_times_as_they_say(upstream) -> None:
    armed = upstream.arm(
        [
            exchange(request={"path": "/token"}, response={"json": {}}, times=None),
            exchange(request={"path": "/chat"}, response={"json": {}}, times=2),
            exchange(request={"path": "/never"}),
        ]
    )
    for _ in range(3):
        httpx.post(f"{upstream.url}/token")
    statuses = [httpx.post(f"{upstream.url}/chat").status_code for _ in range(3)]
    assert statuses == [200, 200, 501]
    assert armed.problems() == [
        "upstream exchange 2 (any method /never): expected 1 request(s), received 0",
        "unexpected upstream request POST /chat: no exchange of the case answers it",
    ]


@given(st.binary(max_size=200), st.lists(st.integers(min_value=-5, max_value=250)))
def test_cutting_keeps_every_byte_in_order(data: bytes, offsets: list[int]) -> None:
    pieces = cut(data, offsets)
    assert b"".join(pieces) == data
    assert all(pieces)
    assert len(pieces) == len({o for o in offsets if 0 < o < len(data)}) + (1 if data else 0)


def test_split_options_recut_the_whole_body() -> None:
    events = StreamReply(events=[{"k": "v"}], split_every=5).body_pieces()
    assert events[0] == b"data:" and b"".join(events) == b'data: {"k":"v"}\n\ndata: [DONE]\n\n'
    assert StreamReply(pieces=["abc", "def"], split_at=[1, 4]).body_pieces() == [
        b"a",
        b"bcd",
        b"ef",
    ]
    assert StreamReply(events=[], done=True).body_pieces() == [b"data: [DONE]\n\n"]


# --------------------------------------------------------------------------- fixture files


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


def test_cases_load_from_yaml_and_json_named_after_their_files(tmp_path: Path) -> None:
    write(tmp_path, "b_chat.yaml", "send: {body: {messages: [{role: user, content: hi}]}}\n")
    case = {"send": {"operation": "embeddings", "body": {"input": "x"}}, "expect": {"status": 200}}
    write(tmp_path, "a_embed.json", orjson.dumps(case).decode())
    write(tmp_path, "notes.txt", "not a case")
    cases = load_cases(tmp_path)
    assert [str(case) for case in cases] == ["a_embed", "b_chat"]
    assert cases[0].send.operation == "embeddings"
    assert cases[1].send.stream is False and cases[1].upstream == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("send: {body: {}}\nupstrem: []\n", "upstrem: unknown key"),
        ("send: {body: {}}\nname: x\n", "a case is named after its file"),
        ("send: {body: {}\n", "not valid YAML"),
        ("- just a list\n", "a mapping at the top level"),
        ("{}\n", "send: required key is missing"),
        (
            "send: {body: {}}\nupstream: [{response: {json: {}, text: x}}]\n",
            "give at most one body source, not json_body, text",
        ),
        (
            "send: {body: {}}\nupstream: [{response: {stream: {events: [], pieces: []}}}]\n",
            "give exactly one of events, pieces",
        ),
        (
            "send: {body: {}}\nupstream: [{request: {header_patterns: {a: '('}}}]\n",
            "a: not a regular expression",
        ),
        (
            "send: {body: {}}\nupstream: [{response: {stream: {builder: 'nowhere.at.all:f'}}}]\n",
            "builder",
        ),
    ],
)
def test_fixture_mistakes_name_the_file_and_the_key(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = write(tmp_path, "case.yaml", text)
    with pytest.raises(ValueError, match=r"case\.yaml") as caught:
        load_case(path)
    assert problem in str(caught.value)


def test_an_empty_fixture_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no contract cases"):
        load_cases(tmp_path)


def test_the_pytest_plugin_loads_the_kit_only_when_asked() -> None:
    probe = (
        "import sys, gateway_core.testing as t; "
        "assert 'gateway_core.contract' not in sys.modules, 'loaded eagerly'; "
        "assert t.ContractKit.__name__ == 'ContractKit'"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=60)
