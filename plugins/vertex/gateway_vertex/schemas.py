"""JSON Schema (as OpenAI clients write tool parameters and response formats) to the OpenAPI
3.0 subset that Vertex AI's ``Schema`` accepts.

Vertex refuses what it does not know (``additionalProperties``, ``$ref``, ``"type": [...]``,
string formats other than ``enum`` and ``date-time``...), so the conversion keeps only what
Vertex reads, inlines local references, turns ``null`` alternatives into ``nullable`` and
``oneOf`` into ``anyOf``. Keywords without an equivalent are dropped rather than refused:
they constrain the model's output, and losing one weakens a hint but breaks no request.
"""

from __future__ import annotations

from typing import Any

TYPES = {
    "string": "STRING",
    "number": "NUMBER",
    "integer": "INTEGER",
    "boolean": "BOOLEAN",
    "array": "ARRAY",
    "object": "OBJECT",
}
FORMATS = {
    "STRING": frozenset({"enum", "date-time"}),
    "NUMBER": frozenset({"float", "double"}),
    "INTEGER": frozenset({"int32", "int64"}),
}
COPIED = (
    "title",
    "description",
    "default",
    "example",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "minProperties",
    "maxProperties",
    "propertyOrdering",
)


class SchemaError(ValueError):
    """A schema that cannot be expressed for Vertex; the message says what to change."""


def to_vertex_schema(schema: Any) -> dict[str, Any]:
    """The Vertex ``Schema`` for a JSON Schema."""
    if not isinstance(schema, dict):
        raise SchemaError("a schema must be a JSON object")
    definitions = {**_mapping(schema.get("definitions")), **_mapping(schema.get("$defs"))}
    return _convert(schema, definitions, ())


def is_empty_object(schema: dict[str, Any]) -> bool:
    """An object with no properties: Vertex refuses it as a function's ``parameters``."""
    return schema.get("type") == "OBJECT" and not schema.get("properties")


def _convert(node: Any, definitions: dict[str, Any], resolving: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise SchemaError("every schema inside a schema must be a JSON object")
    if "$ref" in node:
        return _resolve(node, definitions, resolving)
    kinds, nullable = _types(node.get("type"))
    nullable = nullable or node.get("nullable") is True
    if len(kinds) > 1:
        branches = [_convert({**node, "type": kind}, definitions, resolving) for kind in kinds]
        return _with_nullable({"anyOf": branches}, nullable)
    out: dict[str, Any] = {"type": TYPES[kinds[0]]} if kinds else {}
    alternatives = node.get("anyOf") or node.get("oneOf")
    if isinstance(alternatives, list):
        real = [branch for branch in alternatives if not _is_null(branch)]
        nullable = nullable or len(real) < len(alternatives)
        converted = [_convert(branch, definitions, resolving) for branch in real]
        if len(converted) == 1:
            out = {**converted[0], **out}
        elif converted:
            out["anyOf"] = converted
    parts = node.get("allOf")
    for part in parts if isinstance(parts, list) else []:
        out = _merge(out, _convert(part, definitions, resolving))
    nullable = _copy_keywords(node, out, definitions, resolving) or nullable
    return _with_nullable(out, nullable)


def _types(value: Any) -> tuple[list[str], bool]:
    """The JSON Schema types named (without ``null``), and whether ``null`` was one of them."""
    if value is None:
        return [], False
    names = value if isinstance(value, list) else [value]
    for name in names:
        if name != "null" and not (isinstance(name, str) and name in TYPES):
            raise SchemaError(f"type {name!r} is not a JSON Schema type")
    real = list(dict.fromkeys(name for name in names if name != "null"))
    return real, len(real) < len(names)


def _copy_keywords(
    node: dict[str, Any],
    out: dict[str, Any],
    definitions: dict[str, Any],
    resolving: tuple[str, ...],
) -> bool:
    """Copy the keywords Vertex reads into ``out``; return whether an enum allowed null."""
    for name in COPIED:
        if name in node:
            out[name] = node[name]
    nullable = False
    values = [node["const"]] if "const" in node else node.get("enum")
    if isinstance(values, list):
        named = [value for value in values if value is not None]
        nullable = len(named) < len(values)
        if named and all(isinstance(value, str) for value in named):
            out["enum"] = named
            out.setdefault("type", "STRING")
    fmt = node.get("format")
    if isinstance(fmt, str) and fmt in FORMATS.get(out.get("type", ""), ()):
        out["format"] = fmt
    properties = node.get("properties")
    if isinstance(properties, dict) and properties:
        out["properties"] = {
            str(name): _convert(sub, definitions, resolving) for name, sub in properties.items()
        }
        out.setdefault("type", "OBJECT")
        required = node.get("required")
        listed = required if isinstance(required, list) else []
        wanted = [name for name in listed if isinstance(name, str) and name in properties]
        if wanted:
            out["required"] = list(dict.fromkeys(wanted))
    items = node.get("items")
    if isinstance(items, dict):
        out["items"] = _convert(items, definitions, resolving)
        out.setdefault("type", "ARRAY")
    return nullable


def _resolve(
    node: dict[str, Any], definitions: dict[str, Any], resolving: tuple[str, ...]
) -> dict[str, Any]:
    reference = node["$ref"]
    prefixes = ("#/$defs/", "#/definitions/")
    if not isinstance(reference, str) or not reference.startswith(prefixes):
        raise SchemaError("only local references (#/$defs/... or #/definitions/...) are supported")
    name = reference.split("/", 2)[2]
    if name in resolving:
        raise SchemaError(f"the definition {name!r} refers to itself; Vertex cannot express that")
    if name not in definitions:
        raise SchemaError(f"the reference to {name!r} has no definition")
    siblings = {key: value for key, value in node.items() if key != "$ref"}
    return _convert({**definitions[name], **siblings}, definitions, (*resolving, name))


def _merge(into: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = {**extra, **into}
    if "properties" in into and "properties" in extra:
        merged["properties"] = {**extra["properties"], **into["properties"]}
    if "required" in into or "required" in extra:
        merged["required"] = list(
            dict.fromkeys([*extra.get("required", []), *into.get("required", [])])
        )
    return merged


def _with_nullable(out: dict[str, Any], nullable: bool) -> dict[str, Any]:
    if nullable:
        out["nullable"] = True
    return out


def _is_null(branch: Any) -> bool:
    return isinstance(branch, dict) and branch.get("type") == "null" and len(branch) == 1


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
