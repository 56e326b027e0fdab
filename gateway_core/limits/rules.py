"""From configuration to rules: which strategy counts what, per which scope, up to what.

Three sources, in this order:

* ``limits.rules``, written by the deployer;
* ``models[].deployments[].limits`` (``rpm``, ``tpm``, ``parallel`` of one deployment);
* implicit per-key and per-team rules of the built-in strategies, so that limits stored with a
  virtual key or a team in the database apply without any configuration. The key's ``rpm`` and
  ``tpm`` default to ``limits.default_rpm``/``default_tpm``. A written rule of the same strategy
  and scope without a ``models`` filter replaces the implicit one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from gateway_core.config import Settings

if TYPE_CHECKING:
    from gateway_core.api import LimitStrategy
    from gateway_core.plugins import Registries

#: (strategy, scope, options) of the implicit rules; the limit comes from the database.
IMPLICIT: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("rpm", "key", {}),
    ("tpm", "key", {}),
    ("parallel", "key", {}),
    ("budget", "key", {"period": "total"}),
    ("rpm", "team", {}),
    ("tpm", "team", {}),
    ("parallel", "team", {}),
    ("budget", "team", {}),
)
DEPLOYMENT_LIMITS = ("rpm", "tpm", "parallel")
REQUEST_SCOPES = ("key", "team", "model", "global")


@dataclass(frozen=True, slots=True)
class Rule:
    """One configured limit, resolved: its strategy instance and where it applies.

    ``limit`` is in the strategy's units, ``None`` when only per-caller overrides set it.
    ``override`` names the field of ``identity.metadata["limits"]`` that replaces it.
    ``tag`` starts the name of every counter of this rule.
    """

    strategy: LimitStrategy
    scope: str
    limit: int | None
    override: str | None
    models: frozenset[str] | None
    deployments: frozenset[str] | None
    tag: str
    where: str

    def applies_to_model(self, model: str) -> bool:
        return self.models is None or model in self.models

    def applies_to_deployment(self, deployment_id: str, model: str) -> bool:
        return self.applies_to_model(model) and (
            self.deployments is None or deployment_id in self.deployments
        )


def resolve_rules(settings: Settings, registries: Registries) -> list[Rule]:
    """Every rule, validated; raises ``ConfigError`` listing each problem."""
    from gateway_core.config import ConfigError

    problems: list[str] = []
    drafts: list[_Draft] = []
    known_models = {model.name for model in settings.models}
    for index, rule in enumerate(settings.limits.rules):
        where = f"limits.rules[{index}]"
        unknown = [name for name in rule.models if name not in known_models]
        if unknown:
            problems.append(
                f"{settings.source}: {where}.models: {', '.join(map(repr, unknown))} "
                "is not a configured model"
            )
        drafts.append(
            _Draft(
                rule.strategy,
                rule.scope,
                rule.limit,
                rule.strategy_options(),
                frozenset(rule.models) or None,
                None,
                where,
            )
        )
    drafts += _deployment_drafts(settings)
    drafts += _implicit_drafts(settings, registries, drafts)
    rules = []
    tags: dict[str, int] = {}
    for draft in drafts:
        rule = _resolve(draft, settings, registries, problems)
        if rule is None:
            continue
        seen = tags.get(rule.tag, 0)
        tags[rule.tag] = seen + 1
        if seen:  # two rules would share counters: keep them apart, stably by order
            rule = _with_tag(rule, f"{rule.tag}:{seen + 1}")
        rules.append(rule)
    if problems:
        raise ConfigError(problems)
    return rules


@dataclass(frozen=True, slots=True)
class _Draft:
    strategy: str
    scope: str
    limit: Decimal | int | None
    options: dict[str, Any]
    models: frozenset[str] | None
    deployments: frozenset[str] | None
    where: str
    implicit: bool = False


def _deployment_drafts(settings: Settings) -> list[_Draft]:
    drafts = []
    for m_index, model in enumerate(settings.models):
        for d_index, deployment in enumerate(model.deployments):
            if deployment.limits is None:
                continue
            deployment_id = deployment.id or f"{model.name}/{d_index}"
            for name in DEPLOYMENT_LIMITS:
                value = getattr(deployment.limits, name)
                if value is not None:
                    where = f"models[{m_index}].deployments[{d_index}].limits.{name}"
                    drafts.append(
                        _Draft(
                            name, "deployment", value, {}, None, frozenset({deployment_id}), where
                        )
                    )
    return drafts


def _implicit_drafts(
    settings: Settings, registries: Registries, written: list[_Draft]
) -> list[_Draft]:
    replaced = {(d.strategy, d.scope) for d in written if d.models is d.deployments is None}
    defaults = {
        ("rpm", "key"): (settings.limits.default_rpm, "limits.default_rpm"),
        ("tpm", "key"): (settings.limits.default_tpm, "limits.default_tpm"),
    }
    drafts = []
    for strategy, scope, options in IMPLICIT:
        if (strategy, scope) in replaced:
            continue
        limit, where = defaults.get((strategy, scope), (None, f"implicit {strategy}/{scope}"))
        if strategy not in registries.limit_strategies and limit is None:
            continue  # the built-in limits plugin is switched off and nothing asks for it
        drafts.append(_Draft(strategy, scope, limit, options, None, None, where, implicit=True))
    return drafts


def _resolve(
    draft: _Draft, settings: Settings, registries: Registries, problems: list[str]
) -> Rule | None:
    written = draft.where.startswith("limits.rules")
    configured = registries.limit_strategies.configure(
        draft.strategy,
        draft.options,
        source=settings.source,
        type_key=f"{draft.where}.strategy" if written else draft.where,
        options_key=draft.where,
        problems=problems,
    )
    if configured is None:
        return None
    cls, config = configured
    if draft.scope not in cls.scopes:
        problems.append(
            f"{settings.source}: {draft.where}.scope: strategy {draft.strategy!r} cannot be "
            f"counted per {draft.scope}; it supports {', '.join(sorted(cls.scopes))}"
        )
        return None
    strategy = cls(config)
    limit = strategy.units(draft.limit) if draft.limit is not None else None
    override = cls.overrides.get(draft.scope)
    if limit is None and override is None:
        if not draft.implicit:
            problems.append(
                f"{settings.source}: {draft.where}.limit: required: strategy "
                f"{draft.strategy!r} has no per-{draft.scope} limit in the database to fall "
                "back on"
            )
        return None
    return Rule(
        strategy,
        draft.scope,
        limit,
        override,
        draft.models,
        draft.deployments,
        _tag(draft),
        draft.where,
    )


def _tag(draft: _Draft) -> str:
    """Counter names depend on what is counted, never on the limit, so a changed limit keeps
    the counts so far."""
    tag = f"{draft.strategy}:{draft.scope}"
    if draft.models is None and draft.deployments is None:
        return tag
    text = repr((sorted(draft.models or ()), sorted(draft.deployments or ())))
    return f"{tag}:{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def _with_tag(rule: Rule, tag: str) -> Rule:
    return Rule(
        rule.strategy,
        rule.scope,
        rule.limit,
        rule.override,
        rule.models,
        rule.deployments,
        tag,
        rule.where,
    )


def request_rules(rules: list[Rule], model: str) -> tuple[Rule, ...]:
    """The rules checked at admission for requests to ``model``."""
    return tuple(r for r in rules if r.scope in REQUEST_SCOPES and r.applies_to_model(model))


def deployment_rules(rules: list[Rule], deployment_id: str, model: str) -> tuple[Rule, ...]:
    """The rules checked before an attempt on ``deployment_id`` (a deployment of ``model``)."""
    return tuple(
        r
        for r in rules
        if r.scope == "deployment" and r.applies_to_deployment(deployment_id, model)
    )
