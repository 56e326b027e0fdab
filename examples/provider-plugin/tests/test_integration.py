"""Real HTTP through the gateway's public endpoint against recorded Acme exchanges.

Each file in fixtures/ is a contract case: the contract kit (from gateway_core.testing) serves
the recorded Acme responses on loopback, sends the case's OpenAI request through a real gateway
with this plugin enabled, and checks the reply against the OpenAI contract and the case.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway_core.testing import ContractCase, ContractKit, load_cases

CASES = load_cases(Path(__file__).parent / "fixtures")
DEPLOYMENTS = {
    "acme-small": {
        "provider": "acme",
        "model": "acme-small-2",
        "base_url": "{upstream}",  # the kit's loopback server
        "api_key": "acme-test-key-2f9c41",
    }
}


@pytest.fixture(scope="module")
def kit(contract_kit) -> ContractKit:
    return contract_kit(plugins=["acme"], deployments=DEPLOYMENTS, cases=CASES)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_recorded_exchange(kit: ContractKit, case: ContractCase) -> None:
    kit.check(case)
