"""Usage as Prometheus series: requests, tokens, cost, latency and time to first token.

The metrics are per process. When the gateway runs several workers, ``gateway serve`` turns on
prometheus-client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``) so that ``/metrics``, from
whichever worker answers, adds up every worker's counters and histograms.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from prometheus_client import Counter, Histogram
from prometheus_client.core import Metric

from gateway_core.api import UsageEvent, UsageSink

LABELS = ("model", "provider", "status")
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class UsageMetrics:
    """The series, created once per process."""

    def __init__(self) -> None:
        self.requests = Counter("gateway_requests", "Client requests", LABELS, registry=None)
        self.tokens = Counter(
            "gateway_tokens", "Tokens by kind", ("model", "provider", "kind"), registry=None
        )
        self.cost = Counter("gateway_cost_usd", "Cost in USD", ("model", "provider"), registry=None)
        self.latency = Histogram(
            "gateway_request_latency_seconds",
            "Whole-request latency",
            LABELS,
            buckets=LATENCY_BUCKETS,
            registry=None,
        )
        self.ttft = Histogram(
            "gateway_ttft_seconds",
            "Time to first token of streams",
            ("model", "provider"),
            buckets=LATENCY_BUCKETS,
            registry=None,
        )

    def observe(self, event: UsageEvent) -> None:
        model, provider = event.public_model, event.provider or "none"
        status = str(event.status)
        self.requests.labels(model, provider, status).inc()
        if event.prompt_tokens:
            self.tokens.labels(model, provider, "prompt").inc(event.prompt_tokens)
        if event.completion_tokens:
            self.tokens.labels(model, provider, "completion").inc(event.completion_tokens)
        if event.cost is not None:
            self.cost.labels(model, provider).inc(float(event.cost))
        if event.latency_ms is not None:
            self.latency.labels(model, provider, status).observe(event.latency_ms / 1000)
        if event.ttft_ms is not None:
            self.ttft.labels(model, provider).observe(event.ttft_ms / 1000)

    def collect(self) -> Iterator[Metric]:
        for metric in (self.requests, self.tokens, self.cost, self.latency, self.ttft):
            yield from metric.collect()


_PROCESS_METRICS: UsageMetrics | None = None


def process_metrics() -> UsageMetrics:
    global _PROCESS_METRICS
    if _PROCESS_METRICS is None:
        _PROCESS_METRICS = UsageMetrics()
    return _PROCESS_METRICS


class PrometheusSink(UsageSink):
    type_name = "prometheus"

    async def write(self, events: Sequence[UsageEvent]) -> None:
        metrics = process_metrics()
        for event in events:
            metrics.observe(event)
