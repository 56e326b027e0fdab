"""The provider contract kit: prove that an adapter speaks OpenAI to clients.

A contract case is one client request, the upstream exchanges it causes (recorded responses,
plus what the upstream must have received) and what the client must get back. The kit serves
the exchanges from a loopback server, sends the request through a real gateway with the
official ``openai`` SDK, and checks the reply against the OpenAI contract and the case.
``gateway_core.testing`` re-exports everything here and adds the ``contract_kit`` fixture.
"""

from gateway_core.contract.cases import (
    ClientRequest,
    ContractCase,
    ExpectedError,
    ExpectedToolCall,
    Outcome,
    load_case,
    load_cases,
)
from gateway_core.contract.exchanges import (
    Exchange,
    ReceivedRequest,
    RequestExpectation,
    StreamReply,
    UpstreamReply,
)
from gateway_core.contract.kit import CaseResult, ContractKit, ContractViolation
from gateway_core.contract.openai_contract import read_reply
from gateway_core.contract.replay import Armed, ReplayUpstream
from gateway_core.contract.shapes import Reply, Summary
from gateway_core.contract.streams import parse_sse

__all__ = [
    "Armed",
    "CaseResult",
    "ClientRequest",
    "ContractCase",
    "ContractKit",
    "ContractViolation",
    "Exchange",
    "ExpectedError",
    "ExpectedToolCall",
    "Outcome",
    "ReceivedRequest",
    "ReplayUpstream",
    "Reply",
    "RequestExpectation",
    "StreamReply",
    "Summary",
    "UpstreamReply",
    "load_case",
    "load_cases",
    "parse_sse",
    "read_reply",
]
