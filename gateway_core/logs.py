"""Logging of the gateway's own loggers, in every process (workers start from scratch)."""

from __future__ import annotations

import logging
import os

LEVEL_ENV = "GATEWAY_LOG_LEVEL"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str | None = None) -> None:
    """Our loggers only: Sanic configures its own, and the root logger stays the host's.

    Idempotent: a process that calls it twice still writes each line once.
    """
    logger = logging.getLogger("gateway")
    logger.setLevel((level or os.environ.get(LEVEL_ENV, "INFO")).upper())
    logger.propagate = False
    if not any(getattr(h, "_gateway", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler._gateway = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
