"""Declaring admin operations once: route, validation and OpenAPI from the same description.

Each operation names its request body and response models (pydantic); the decorator registers
the Sanic route, authenticates the caller, validates the body and the pagination parameters
(400 naming the field), and records everything the OpenAPI document needs.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, raw

from gateway_core import __version__
from gateway_core.codec import dumps, loads_object
from gateway_core.errors import InvalidRequest
from gateway_core.tenancy.service import Actor

DEFAULT_PAGE = 20
MAX_PAGE = 100
ERROR_STATUSES = (400, 401, 403, 404, 409)

Handler = Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class QueryParam:
    name: str
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    summary: str
    tag: str
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    paginated: bool
    query: tuple[QueryParam, ...]


PAGINATION = (
    QueryParam(
        "limit",
        f"page size, 1 to {MAX_PAGE}",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_PAGE},
    ),
    QueryParam("after", "cursor: the last id of the previous page"),
)


def parse_body(model: type[BaseModel], request: Request) -> BaseModel:
    payload = loads_object(request.body)
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(part) for part in first["loc"]) or None
        message = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
        raise InvalidRequest(f"Invalid '{location}': {message}.", param=location) from None


def parse_pagination(request: Request) -> tuple[int, str | None]:
    raw_limit = request.args.get("limit")
    limit = DEFAULT_PAGE
    if raw_limit is not None:
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_PAGE:
            raise InvalidRequest(
                f"'limit' must be a whole number from 1 to {MAX_PAGE}.", param="limit"
            )
        limit = int(raw_limit)
    after = request.args.get("after")
    if after is not None and not after.strip():
        raise InvalidRequest("'after' cannot be empty.", param="after")
    return limit, after


class AdminAPI:
    """Operations of one blueprint and the OpenAPI document describing them."""

    def __init__(self, blueprint: Blueprint) -> None:
        self.blueprint = blueprint
        self.operations: list[Operation] = []

    def operation(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        tag: str,
        body: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        paginated: bool = False,
        query: tuple[QueryParam, ...] = (),
    ) -> Callable[[Handler], Handler]:
        """Register ``handler(actor, *, body?, limit?, after?, request, **path_params)``."""
        spec = Operation(
            method,
            path,
            summary,
            tag,
            body,
            response,
            status,
            paginated,
            (*PAGINATION, *query) if paginated else query,
        )
        self.operations.append(spec)

        def decorator(handler: Handler) -> Handler:
            async def endpoint(request: Request, **path_params: str) -> HTTPResponse:
                identity = await request.app.ctx.gateway.authenticate(request)
                actor = Actor(identity, getattr(request.ctx, "request_id", None))
                kwargs: dict[str, Any] = dict(path_params)
                if body is not None:
                    kwargs["body"] = parse_body(body, request)
                if paginated:
                    kwargs["limit"], kwargs["after"] = parse_pagination(request)
                result = await handler(actor, request=request, **kwargs)
                return raw(dumps(result), status=status, content_type="application/json")

            endpoint.__name__ = handler.__name__
            self.blueprint.add_route(endpoint, path, methods=[method], name=handler.__name__)
            return handler

        return decorator

    def openapi(self, title: str, prefix: str) -> dict[str, Any]:
        components: dict[str, Any] = {"Error": ERROR_SCHEMA}
        paths: dict[str, Any] = {}
        for op in self.operations:
            openapi_path = prefix + re.sub(r"<(\w+)(?::[^>]*)?>", r"{\1}", op.path)
            item: dict[str, Any] = {
                "summary": op.summary,
                "tags": [op.tag],
                "operationId": f"{op.method.lower()}_{op.tag}_{len(paths)}",
                "security": [{"bearer": []}],
                "parameters": [
                    {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                    for name in re.findall(r"<(\w+)", op.path)
                ]
                + [
                    {
                        "name": q.name,
                        "in": "query",
                        "required": False,
                        "description": q.description,
                        "schema": q.schema,
                    }
                    for q in op.query
                ],
                "responses": {
                    str(op.status): _response(op, components),
                    **{str(code): _error_response() for code in ERROR_STATUSES},
                },
            }
            if op.body is not None:
                item["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": _schema(op.body, components)}},
                }
            paths.setdefault(openapi_path, {})[op.method.lower()] = item
        return {
            "openapi": "3.0.3",
            "info": {"title": title, "version": __version__},
            "paths": paths,
            "components": {
                "schemas": components,
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            },
        }


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": "string", "nullable": True},
                "code": {"type": "string", "nullable": True},
            },
        }
    },
}


def _error_response() -> dict[str, Any]:
    return {
        "description": "error in the OpenAI shape",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        components[name] = _openapi30(definition)
    components[model.__name__] = _openapi30(schema)
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _response(op: Operation, components: dict[str, Any]) -> dict[str, Any]:
    if op.response is None:
        return {"description": "done"}
    item = _schema(op.response, components)
    if op.paginated:
        item = {
            "type": "object",
            "required": ["object", "data", "has_more", "first_id", "last_id"],
            "properties": {
                "object": {"type": "string", "enum": ["list"]},
                "data": {"type": "array", "items": item},
                "has_more": {"type": "boolean"},
                "first_id": {"type": "string", "nullable": True},
                "last_id": {"type": "string", "nullable": True},
            },
        }
    return {"description": op.summary, "content": {"application/json": {"schema": item}}}


def _openapi30(schema: Any) -> Any:
    """pydantic writes JSON Schema 2020-12; OpenAPI 3.0 wants ``nullable`` instead of
    ``anyOf [X, null]`` and has no ``const``."""
    if isinstance(schema, list):
        return [_openapi30(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {key: _openapi30(value) for key, value in schema.items()}
    options = schema.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [option for option in options if option != {"type": "null"}]
        schema.pop("anyOf")
        if len(rest) == 1:
            merged = {**rest[0], **schema, "nullable": True}
            if "$ref" in merged:
                merged = {"allOf": [{"$ref": merged.pop("$ref")}], **merged}
            schema = merged
        else:
            schema = {**schema, "anyOf": rest, "nullable": True}
    if "const" in schema:
        schema["enum"] = [schema.pop("const")]
    return schema
