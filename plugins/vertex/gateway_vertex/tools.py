"""OpenAI ``tools`` and ``tool_choice`` as Gemini function declarations and a tool config."""

from __future__ import annotations

import re
from typing import Any, Literal

from gateway_core.api import InvalidRequest
from gateway_vertex.schemas import SchemaError, is_empty_object, to_vertex_schema

SchemaStyle = Literal["openapi", "json_schema"]
#: Gemini's rule for function names.
FUNCTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
MODES = {"auto": "AUTO", "required": "ANY", "none": "NONE"}


def function_declarations(tools: Any, style: SchemaStyle) -> list[dict[str, Any]]:
    """All functions go into one Gemini ``Tool``; this returns its declarations."""
    if not isinstance(tools, list):
        raise InvalidRequest("'tools' must be an array.", param="tools")
    return [_declaration(tool, f"tools[{index}]", style) for index, tool in enumerate(tools)]


def _declaration(tool: Any, where: str, style: SchemaStyle) -> dict[str, Any]:
    if not isinstance(tool, dict) or tool.get("type") != "function":
        raise InvalidRequest("Vertex AI supports tools of type 'function' only.", param=where)
    function = tool.get("function")
    if not isinstance(function, dict):
        raise InvalidRequest("A function tool needs a 'function' object.", param=where)
    name = function.get("name")
    if not isinstance(name, str) or not FUNCTION_NAME.match(name):
        raise InvalidRequest(
            "Function names for Vertex AI start with a letter or underscore and hold up to 64 "
            "letters, digits, underscores, dots and dashes.",
            param=f"{where}.function.name",
        )
    declaration: dict[str, Any] = {"name": name}
    if isinstance(function.get("description"), str):
        declaration["description"] = function["description"]
    parameters = function.get("parameters")
    if parameters is not None:
        declaration.update(_parameters(parameters, f"{where}.function.parameters", style))
    return declaration


def _parameters(schema: Any, where: str, style: SchemaStyle) -> dict[str, Any]:
    if style == "json_schema":
        if not isinstance(schema, dict):
            raise InvalidRequest(
                "A function's parameters must be a JSON Schema object.", param=where
            )
        return {"parametersJsonSchema": schema}
    try:
        converted = to_vertex_schema(schema)
    except SchemaError as problem:
        raise InvalidRequest(f"Vertex AI cannot use this schema: {problem}.", param=where) from None
    # Vertex refuses an object without properties: a function without arguments declares none.
    return {} if is_empty_object(converted) else {"parameters": converted}


def tool_config(choice: Any) -> dict[str, Any] | None:
    """Gemini's ``toolConfig`` for an OpenAI ``tool_choice`` (``None`` when not given)."""
    if choice is None:
        return None
    if isinstance(choice, str) and choice in MODES:
        return {"functionCallingConfig": {"mode": MODES[choice]}}
    function = choice.get("function") if isinstance(choice, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    if isinstance(name, str) and choice.get("type") == "function":
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    raise InvalidRequest(
        "'tool_choice' must be 'auto', 'required', 'none' or a named function.",
        param="tool_choice",
    )
