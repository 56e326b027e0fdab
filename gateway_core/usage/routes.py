"""Usage endpoints: reports and exports on the admin API, and ``GET /v1/usage`` for a key's
own usage. Parse, check who may see what, call the service, respond."""

from __future__ import annotations

import time
from typing import Any
from zoneinfo import ZoneInfo

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, raw

from gateway_core import db
from gateway_core.admin.spec import AdminAPI, Operation, QueryParam
from gateway_core.api import Identity
from gateway_core.codec import dumps
from gateway_core.errors import PermissionDenied, ServiceUnavailable
from gateway_core.tenancy import permissions
from gateway_core.tenancy.service import Actor
from gateway_core.usage import export, params
from gateway_core.usage.schemas import UsageReport
from gateway_core.usage.service import UsageService

own_usage_blueprint = Blueprint("own_usage", url_prefix="/v1")

_RANGE = (
    QueryParam(
        "from",
        "start, inclusive: ISO 8601 with an offset, or a date (the start of that day in tz); "
        "default: 24 hours, 30 days or 12 months before 'to' by bucket (30 days for exports)",
    ),
    QueryParam(
        "to",
        "end, exclusive: ISO 8601 with an offset, or a date (that whole day in tz is included); "
        "default: the end of the current hour, day or month (day for exports)",
    ),
    QueryParam("tz", "IANA time zone of buckets and dates", {"type": "string", "default": "UTC"}),
)
_SERIES = (
    QueryParam(
        "bucket",
        "size of each time bucket, or none for one total",
        {"type": "string", "enum": list(params.BUCKETS), "default": "day"},
    ),
    QueryParam("group_by", "comma-separated dimensions: key, team, model, provider, user"),
)
_FILTERS = tuple(
    QueryParam(
        name,
        f"only these {name}s (comma-separated or repeated); a request matching any listed "
        "entity of any dimension counts once",
    )
    for name in ("key", "team", "model", "provider", "user")
)
_FORMAT = QueryParam(
    "format",
    "csv (text/csv) or json (JSON lines, application/x-ndjson)",
    {"type": "string", "enum": list(params.FORMATS), "default": "csv"},
)


def service(request: Request) -> UsageService:
    """This worker's usage service, made on first use (it holds the live-figures cache)."""
    gateway = request.app.ctx.gateway
    if gateway.tenancy is None:
        raise ServiceUnavailable("The database is not ready yet.")
    existing = getattr(request.app.ctx, "usage_service", None)
    if existing is None:
        settings = gateway.settings.database
        existing = request.app.ctx.usage_service = UsageService(lambda: db.connection(settings))
    return existing


def query_args(request: Request) -> dict[str, list[str]]:
    """Every value of every query parameter (Sanic's ``args.get`` gives only the first)."""
    return {name: request.args.getlist(name) for name in request.args}


def admin_scope(identity: Identity, args: params.UsageArgs) -> dict[str, str]:
    """Admins and viewers see everything; a team admin only its own team."""
    team = permissions.team_scope(identity)
    if team is None:
        return {}
    if any(value != team for value in args.filters.get("team", ())):
        raise PermissionDenied("A team_admin may only see its own team.")
    return {"team": team}


def register(api: AdminAPI) -> None:
    """Add the usage report and export to the admin API."""

    @api.operation(
        "GET",
        "/usage",
        summary="Usage totals and time series, grouped and filtered",
        tag="usage",
        response=UsageReport,
        query=(*_RANGE, *_SERIES, *_FILTERS),
    )
    async def usage_report(actor: Actor, *, request: Request) -> Any:
        args = params.parse(query_args(request), params.REPORT_PARAMS, time.time())
        query = args.query(admin_scope(actor.identity, args))
        return await service(request).report(query)

    # Streamed, so registered on the blueprint directly; described for the OpenAPI document
    # without a response schema, which AdminAPI can only give for JSON.
    api.blueprint.add_route(export_usage, "/usage/export", methods=["GET"], name="export_usage")
    api.operations.append(
        Operation(
            "GET",
            "/usage/export",
            "Raw usage records, streamed as CSV (text/csv) or JSON lines (application/x-ndjson)",
            "usage",
            None,
            None,
            200,
            False,
            (*_RANGE, _FORMAT, *_FILTERS),
        )
    )


async def export_usage(request: Request) -> HTTPResponse | None:
    identity = await request.app.ctx.gateway.authenticate(request)
    args = params.parse(query_args(request), params.EXPORT_PARAMS, time.time())
    query = args.query(admin_scope(identity, args))
    zone = ZoneInfo(query.tz)
    pages = service(request).record_pages(query)
    first = await anext(pages, None)  # a database failure is still a proper error response
    filename = f"usage-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    extension = "csv" if args.format == "csv" else "jsonl"
    response = await request.respond(
        content_type=export.CONTENT_TYPES[args.format],
        headers={"Content-Disposition": f'attachment; filename="{filename}.{extension}"'},
    )
    if args.format == "csv":
        await response.send(export.csv_header())
    render = export.csv_rows if args.format == "csv" else export.json_lines
    page = first
    while page is not None:
        await response.send(render(page, zone))
        page = await anext(pages, None)
    await response.eof()
    return None


@own_usage_blueprint.get("/usage")
async def own_usage(request: Request) -> HTTPResponse:
    """The caller's own usage: a virtual key's, or the master key's."""
    identity = await request.app.ctx.gateway.authenticate(request)
    args = params.parse(query_args(request), params.OWN_PARAMS, time.time())
    report = await service(request).report(args.query({"key": identity.subject}))
    return raw(dumps(report), content_type="application/json")
