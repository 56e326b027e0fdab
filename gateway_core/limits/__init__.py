"""Limits: admission of a request before any upstream is called, settlement afterwards.

The request path talks to limits through two objects only: the :class:`LimitsEngine` admits a
request (raising ``RateLimited`` when a limit refuses it) and returns an :class:`Admission`,
which the executor asks before each attempt on a deployment and which is settled exactly once
with what the request really used.

The modules, each with one job (``docs/limits.md`` explains the whole):

* ``admission`` — the contract above; ``build`` — the engine from settings;
* ``rules`` — configured limits resolved to strategies and scopes;
* ``charges``, ``request`` — what strategies see and return;
* ``charging`` — rules and a request to backend checks, refusals to client errors;
* ``engine`` — admission, deployment attempts, settlement, alerts;
* ``backend``, ``memory``, ``redis_backend``, ``scripts``, ``batching`` — the counters;
* ``guard``, ``leases``, ``stats``, ``alerts`` — outages, lease renewal, metrics, soft limits;
* ``estimate``, ``periods``, ``headers`` — token estimates, calendar periods, response headers.
"""

from gateway_core.limits.admission import UNLIMITED, Admission, LimitsEngine, Unlimited

__all__ = ["UNLIMITED", "Admission", "LimitsEngine", "Unlimited"]
