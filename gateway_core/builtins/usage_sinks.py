"""Built-in usage sinks, registered through the same hook as third-party ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway_core import hookimpl
from gateway_core.usage.sinks.database import DatabaseSink
from gateway_core.usage.sinks.jsonl import JsonlSink
from gateway_core.usage.sinks.prometheus import PrometheusSink
from gateway_core.usage.sinks.webhook import WebhookSink

if TYPE_CHECKING:
    from gateway_core.api import UsageSink
    from gateway_core.registry import Registry


@hookimpl
def gateway_register_usage_sinks(sinks: Registry[type[UsageSink]]) -> None:
    for sink in (DatabaseSink, JsonlSink, PrometheusSink, WebhookSink):
        sinks.add(sink)
