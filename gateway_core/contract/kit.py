"""The contract kit: a real gateway, a replaying upstream, and the official SDK between them.

The gateway runs as a child process (``gateway serve``), exactly as in production: plugins are
found through their entry points and named under ``plugins:``. Each case gets a public model of
its own, so that routing state one case leaves behind (an open circuit after a 429, latency
averages) never changes what the next case sees.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from secrets import token_hex
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, SecretBytes, SecretStr

from gateway_core.contract.cases import ContractCase
from gateway_core.contract.client import send_with_sdk
from gateway_core.contract.exchanges import ReceivedRequest
from gateway_core.contract.expectations import outcome_problems
from gateway_core.contract.openai_contract import read_reply
from gateway_core.contract.replay import ReplayUpstream
from gateway_core.contract.shapes import Reply, Summary

if TYPE_CHECKING:
    import openai

    from gateway_core.testing import GatewayProcess

UPSTREAM = "{upstream}"
#: Shorter values are too likely to occur by chance to be looked for in replies and logs.
SHORTEST_SECRET = 6


class ContractViolation(AssertionError):
    """A case broke the contract; ``problems`` holds every finding, one sentence each."""

    def __init__(self, case: str, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        listed = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"contract case {case!r}: {len(self.problems)} problem(s)\n{listed}")


@dataclass(slots=True)
class CaseResult:
    """What happened in a case that passed, for further assertions of a test's own."""

    reply: Reply
    summary: Summary
    received: list[list[ReceivedRequest]]
    raised: Exception | None

    def requests(self, exchange: int = 0) -> list[ReceivedRequest]:
        """The requests the upstream received for the case's exchange number ``exchange``."""
        return self.received[exchange]


class ContractKit:
    """Runs contract cases through a real gateway against recorded upstream exchanges.

    ``deployments`` maps a label to a deployment config (``provider`` plus the adapter's keys);
    the string ``{upstream}`` anywhere in it becomes the replay server's URL. ``cases`` are the
    cases this kit will run (each gets its own public model). Every label is also a public
    model of its own, for tests that send requests themselves (``model``, ``client``).
    ``secrets`` are values that must never reach a client or the gateway's log, in addition to
    the master key and every ``SecretStr`` in the deployments' validated configs. ``config``
    adds top-level gateway settings; ``env`` adds environment variables for the gateway.
    """

    def __init__(
        self,
        *,
        plugins: Sequence[str] | Mapping[str, Any],
        deployments: Mapping[str, Mapping[str, Any]],
        directory: Path,
        cases: Iterable[ContractCase] = (),
        secrets: Iterable[str] = (),
        config: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> None:
        if not deployments:
            raise ValueError("give at least one deployment")
        self.plugins = plugins
        self.deployments = dict(deployments)
        self.directory = directory
        self.cases = {case.name: case for case in cases}
        self.extra_secrets = [value for value in secrets if value]
        self.extra_config = dict(config or {})
        self.env = dict(env or {})
        self.timeout = timeout
        self.master_key = "sk-contract-" + token_hex(12)
        self.upstream = ReplayUpstream()
        self._gateway: GatewayProcess | None = None
        self._secrets: list[str] = []
        self._log_read = 0

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> ContractKit:
        from gateway_core.testing import GatewayProcess

        self.upstream.start()
        try:
            config = self.gateway_config()
            self._secrets = self._find_secrets(config)
            self._gateway = GatewayProcess(config, self.directory, env=self.env)
        except BaseException:
            self.upstream.stop()
            raise
        return self

    def stop(self) -> None:
        if self._gateway is not None:
            self._gateway.stop()
            self._gateway = None
        self.upstream.stop()

    def __enter__(self) -> ContractKit:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def gateway(self) -> GatewayProcess:
        if self._gateway is None:
            raise RuntimeError("the contract kit is not running; call start()")
        return self._gateway

    def gateway_config(self) -> dict[str, Any]:
        """The gateway's configuration: one model per deployment label and one per case."""
        models = [self._model(label, label, label) for label in self.deployments]
        first = next(iter(self.deployments))
        for case in self.cases.values():
            label = case.deployment or first
            if label not in self.deployments:
                known = ", ".join(self.deployments)
                raise ValueError(f"case {case.name!r}: no deployment {label!r} (known: {known})")
            models.append(self._model(case_model(case.name), label, f"{label}/{case.name}"))
        return {
            "auth": {"master_key": self.master_key},
            "plugins": self.plugins,
            "models": models,
            **self.extra_config,
        }

    def _model(self, name: str, label: str, deployment_id: str) -> dict[str, Any]:
        deployment = {**_with_upstream(self.deployments[label], self.upstream.url)}
        return {"name": name, "deployments": [{**deployment, "id": deployment_id}]}

    def _find_secrets(self, config: dict[str, Any]) -> list[str]:
        """The master key, the extra secrets and every secret in the validated deployments."""
        from gateway_core.gateway import check_settings
        from gateway_core.testing import settings_from_mapping

        _plugins, models = check_settings(settings_from_mapping(config))
        found = [self.master_key, *self.extra_secrets]
        for model in models:
            for spec in model.deployments:
                found += secret_values(spec.config)
        return sorted({value for value in found if len(value) >= SHORTEST_SECRET})

    # -- requests -------------------------------------------------------------------------

    def model(self, label: str | None = None) -> str:
        """The public model served by deployment ``label`` (default: the first)."""
        chosen = label or next(iter(self.deployments))
        if chosen not in self.deployments:
            raise KeyError(f"no deployment {chosen!r}; known: {', '.join(self.deployments)}")
        return chosen

    def client(self, **options: Any) -> openai.OpenAI:
        """An official SDK client for the gateway (no retries unless asked)."""
        import openai

        options.setdefault("max_retries", 0)
        return openai.OpenAI(
            base_url=f"{self.gateway.base_url}/v1", api_key=self.master_key, **options
        )

    def check(self, case: ContractCase) -> CaseResult:
        """Run ``case``; raise :class:`ContractViolation` listing every problem found."""
        if case.name not in self.cases:
            raise KeyError(f"case {case.name!r} was not given to the kit when it started")
        armed = self.upstream.arm(case.upstream)
        sent = send_with_sdk(
            f"{self.gateway.base_url}/v1",
            self.master_key,
            case_model(case.name),
            case.send,
            self.timeout,
        )
        summary, problems = read_reply(case.send, sent.reply)
        problems += _sdk_problems(sent.reply, summary, sent.raised)
        problems += armed.problems()
        problems += outcome_problems(case.expect, summary, sent.reply)
        problems += self.leaks(sent.reply)
        if problems:
            raise ContractViolation(case.name, problems)
        return CaseResult(sent.reply, summary, armed.received, sent.raised)

    def leaks(self, reply: Reply | None = None) -> list[str]:
        """Secrets found in ``reply`` or in what the gateway logged since the last look, and
        tracebacks in that log: both should never happen."""
        found = []
        places: dict[str, str] = {}
        if reply is not None:
            places["the response body"] = reply.body.decode(errors="replace")
            places["the response headers"] = "\n".join(reply.headers.values())
        log = self.gateway.log()
        places["the gateway log"], self._log_read = log[self._log_read :], len(log)
        for place, text in places.items():
            found += [
                f"secret leak: {place} contains a secret ({value[:4]}...)"
                for value in self._secrets
                if value in text
            ]
        logged = places["the gateway log"]
        if "Traceback (most recent call last)" in logged:
            found.append(f"the gateway logged an unexpected exception:\n{logged}")
        return found


def case_model(name: str) -> str:
    """The public model name the kit gives case ``name``."""
    return f"case/{name}"


def secret_values(value: Any) -> Iterator[str]:
    """Every ``SecretStr``/``SecretBytes`` value inside a validated config, at any depth."""
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, SecretBytes):
        yield value.get_secret_value().decode(errors="replace")
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from secret_values(getattr(value, name))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from secret_values(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from secret_values(item)


def _with_upstream(value: Any, url: str) -> Any:
    if isinstance(value, str):
        return value.replace(UPSTREAM, url)
    if isinstance(value, Mapping):
        return {key: _with_upstream(item, url) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_upstream(item, url) for item in value]
    return value


def _sdk_problems(reply: Reply, summary: Summary, raised: Exception | None) -> list[str]:
    """The SDK raises for error statuses and error events, and for nothing else."""
    import openai

    if raised is None:
        return []
    if isinstance(raised, openai.APIStatusError) and reply.status >= 400:
        return []
    if isinstance(raised, openai.APIError) and summary.stream_error is not None:
        return []
    return [f"the openai SDK could not read the reply: {raised!r}"]
