"""Limits: admission of a request before any upstream is called, settlement afterwards.

The request path talks to limits through two objects only: the :class:`LimitsEngine` admits a
request (raising ``RateLimited`` when a limit refuses it) and returns an :class:`Admission`,
which the executor asks before each attempt on a deployment and which is settled exactly once
with what the request really used.
"""

from gateway_core.limits.admission import UNLIMITED, Admission, LimitsEngine, Unlimited

__all__ = ["UNLIMITED", "Admission", "LimitsEngine", "Unlimited"]
