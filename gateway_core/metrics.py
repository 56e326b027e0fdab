"""``/metrics`` in Prometheus format.

Routing state is read when Prometheus scrapes, not counted per request: the router already
keeps the numbers, so the hot path pays nothing for them. Each worker answers for itself.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, raw

from gateway_core.routing.breaker import BreakerState
from gateway_core.usage.sinks.prometheus import process_metrics

if TYPE_CHECKING:
    from gateway_core.gateway import Gateway

metrics_blueprint = Blueprint("metrics")
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


class RoutingCollector(Collector):
    """Circuit state, in-flight requests, outcomes and latency of every deployment."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def collect(self) -> Iterator[Metric]:
        labels = ["model", "deployment"]
        state = GaugeMetricFamily(
            "gateway_deployment_circuit_state",
            "1 for the circuit breaker's current state of each deployment",
            labels=[*labels, "state"],
        )
        opened = CounterMetricFamily(
            "gateway_deployment_circuit_opened", "Times the circuit opened", labels=labels
        )
        in_flight = GaugeMetricFamily(
            "gateway_deployment_in_flight", "Requests in flight to the deployment", labels=labels
        )
        outcomes = CounterMetricFamily(
            "gateway_deployment_attempts",
            "Upstream attempts by outcome",
            labels=[*labels, "outcome"],
        )
        latency = GaugeMetricFamily(
            "gateway_deployment_latency_seconds",
            "Moving average of response latency",
            labels=labels,
        )
        ttft = GaugeMetricFamily(
            "gateway_deployment_ttft_seconds",
            "Moving average of time to first event of streams",
            labels=labels,
        )
        for model, route in self.gateway.router.routes.items():
            for deployment in route.deployments:
                key = [model, deployment.id]
                for candidate in BreakerState:
                    value = 1.0 if deployment.breaker.state is candidate else 0.0
                    state.add_metric([*key, candidate.value], value)
                opened.add_metric(key, deployment.breaker.times_opened)
                in_flight.add_metric(key, deployment.in_flight)
                outcomes.add_metric([*key, "success"], deployment.successes)
                outcomes.add_metric([*key, "failure"], deployment.failures)
                if deployment.latency_ewma is not None:
                    latency.add_metric(key, deployment.latency_ewma)
                if deployment.ttft_ewma is not None:
                    ttft.add_metric(key, deployment.ttft_ewma)
        yield from (state, opened, in_flight, outcomes, latency, ttft)


class UsageCollector(Collector):
    """This process's usage series (single-process mode)."""

    def collect(self) -> Iterator[Metric]:
        yield from process_metrics().collect()


class LimitsCollector(Collector):
    """Refusals, soft-limit alerts and limits-backend failures of this worker."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def collect(self) -> Iterator[Metric]:
        stats = getattr(self.gateway.limits, "stats", None)
        if stats is None:
            return
        refused = CounterMetricFamily(
            "gateway_limits_refused", "Requests refused by a limit", labels=["strategy", "scope"]
        )
        for (strategy, scope), count in sorted(stats.refused.items()):
            refused.add_metric([strategy, scope], count)
        alerts = CounterMetricFamily(
            "gateway_limits_alerts", "Soft limits crossed", labels=["strategy", "scope"]
        )
        for (strategy, scope), count in sorted(stats.alerts.items()):
            alerts.add_metric([strategy, scope], count)
        errors = CounterMetricFamily(
            "gateway_limits_backend_errors",
            "Limits backend operations that failed, or were skipped during an outage",
            labels=["operation"],
        )
        for operation, count in sorted(stats.backend_errors.items()):
            errors.add_metric([operation], count)
        yield from (refused, alerts, errors)
        yield CounterMetricFamily(
            "gateway_limits_failed_open",
            "Requests let through without checking limits: the backend was unavailable",
            value=stats.failed_open,
        )
        yield CounterMetricFamily(
            "gateway_limits_failed_closed",
            "Requests refused with 503: the limits backend was unavailable",
            value=stats.failed_closed,
        )


def build_registry(gateway: Gateway) -> CollectorRegistry:
    """Routing state of this worker, and usage series of every worker.

    With several workers (``PROMETHEUS_MULTIPROC_DIR`` set by ``gateway serve``) counters and
    histograms are read from every worker's files, so any worker can answer the scrape.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RoutingCollector(gateway))
    registry.register(LimitsCollector(gateway))
    if os.environ.get(MULTIPROCESS_ENV):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(UsageCollector())
    return registry


def enable_multiprocess_mode() -> None:
    """Give every worker of this server one fresh directory for its metric files.

    Called by ``gateway serve`` before workers start; an operator-provided directory is kept.
    """
    if os.environ.get(MULTIPROCESS_ENV):
        return
    directory = tempfile.mkdtemp(prefix="gateway-metrics-")
    os.environ[MULTIPROCESS_ENV] = directory
    values.ValueClass = values.get_value_class()


@metrics_blueprint.get("/metrics")
async def metrics(request: Request) -> HTTPResponse:
    body = generate_latest(request.app.ctx.metrics_registry)
    return raw(body, content_type=CONTENT_TYPE_LATEST)
