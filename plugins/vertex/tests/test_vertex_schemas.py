"""JSON Schema to Vertex's OpenAPI subset: known conversions, and on any schema, output that
only uses what Vertex reads (or a SchemaError, never anything else)."""

from __future__ import annotations

from typing import Any

import pytest
from gateway_vertex.schemas import TYPES, SchemaError, to_vertex_schema
from hypothesis import given, settings
from hypothesis import strategies as st

VERTEX_KEYS = {
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "default",
    "example",
    "enum",
    "properties",
    "required",
    "items",
    "anyOf",
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
}
VERTEX_TYPES = set(TYPES.values())
CHILD_KEYS = ("anyOf", "items", "properties")


def test_a_pydantic_style_schema_with_definitions_and_optionals() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Order",
        "type": "object",
        "additionalProperties": False,
        "$defs": {
            "Item": {
                "type": "object",
                "properties": {
                    "sku": {"type": "string", "format": "uuid"},
                    "qty": {"type": "integer", "format": "int32"},
                },
                "required": ["sku", "qty", "ghost"],
            }
        },
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}, "minItems": 1},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "when": {"type": "string", "format": "date-time"},
            "status": {"const": "open"},
            "rank": {"type": "integer", "enum": [1, 2, 3]},
            "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "tags": {"type": ["array", "null"], "items": {"type": "string", "enum": ["a", None]}},
        },
        "required": ["items"],
    }
    assert to_vertex_schema(schema) == {
        "type": "OBJECT",
        "title": "Order",
        "properties": {
            "items": {
                "type": "ARRAY",
                "minItems": 1,
                "items": {
                    "type": "OBJECT",
                    "properties": {
                        "sku": {"type": "STRING"},
                        "qty": {"type": "INTEGER", "format": "int32"},
                    },
                    "required": ["sku", "qty"],
                },
            },
            "note": {"type": "STRING", "default": None, "nullable": True},
            "when": {"type": "STRING", "format": "date-time"},
            "status": {"type": "STRING", "enum": ["open"]},
            "rank": {"type": "INTEGER"},
            "id": {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]},
            "tags": {
                "type": "ARRAY",
                "items": {"type": "STRING", "enum": ["a"], "nullable": True},
                "nullable": True,
            },
        },
        "required": ["items"],
    }


def test_all_of_is_merged() -> None:
    schema = {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"properties": {"b": {"type": "number"}}, "required": ["b"]},
        ]
    }
    converted = to_vertex_schema(schema)
    assert converted["type"] == "OBJECT"
    assert converted["properties"] == {"a": {"type": "STRING"}, "b": {"type": "NUMBER"}}
    assert sorted(converted["required"]) == ["a", "b"]


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        ({"$ref": "https://example.com/schema.json"}, "only local references"),
        ({"$ref": "#/$defs/Missing"}, "has no definition"),
        (
            {"$defs": {"Node": {"properties": {"next": {"$ref": "#/$defs/Node"}}}},
             "$ref": "#/$defs/Node"},
            "refers to itself",
        ),
        ({"type": "date"}, "not a JSON Schema type"),
        ([], "must be a JSON object"),
    ],
)  # fmt: skip
def test_what_vertex_cannot_express_is_refused(schema: Any, problem: str) -> None:
    with pytest.raises(SchemaError, match=problem):
        to_vertex_schema(schema)


KEYWORD = st.sampled_from(
    ["type", "properties", "items", "anyOf", "oneOf", "allOf", "required", "enum", "const",
     "format", "additionalProperties", "description", "nullable", "$ref", "minimum", "default"]
)  # fmt: skip
TYPE_NAME = st.sampled_from(["string", "number", "integer", "boolean", "array", "object", "null"])
LEAF = st.fixed_dictionaries({"type": TYPE_NAME | st.lists(TYPE_NAME, max_size=3)})


def schemas() -> st.SearchStrategy[Any]:
    def grow(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.dictionaries(
            KEYWORD,
            st.one_of(
                inner,
                TYPE_NAME,
                st.lists(TYPE_NAME, max_size=3),
                st.lists(inner, max_size=3),
                st.dictionaries(st.text(max_size=3), inner, max_size=3),
                st.lists(st.text(max_size=3) | st.integers() | st.none(), max_size=3),
                st.sampled_from(["#/$defs/A", "#/definitions/B", "date-time", "uuid"]),
                st.booleans(),
            ),
            max_size=5,
        )

    return st.recursive(LEAF, grow, max_leaves=12)


def _check_vertex_shape(node: Any, where: str = "schema") -> None:
    assert isinstance(node, dict), where
    assert set(node) <= VERTEX_KEYS, f"{where}: {sorted(set(node) - VERTEX_KEYS)}"
    if "type" in node:
        assert node["type"] in VERTEX_TYPES, f"{where}.type {node['type']!r}"
    if "enum" in node:
        assert node["enum"] and all(isinstance(v, str) for v in node["enum"]), where
    if "required" in node:
        assert set(node["required"]) <= set(node.get("properties", {})), where
    if "properties" in node:
        assert node["properties"], f"{where}: empty properties"
        for name, child in node["properties"].items():
            _check_vertex_shape(child, f"{where}.properties.{name}")
    if "items" in node:
        _check_vertex_shape(node["items"], f"{where}.items")
    for position, branch in enumerate(node.get("anyOf", [])):
        _check_vertex_shape(branch, f"{where}.anyOf[{position}]")


@settings(max_examples=500, deadline=None)
@given(schemas())
def test_any_schema_becomes_only_what_vertex_reads_or_a_schema_error(schema: Any) -> None:
    definitions = {"$defs": {"A": {"type": "string"}}, "definitions": {"B": {"type": "integer"}}}
    document = {**definitions, **schema} if isinstance(schema, dict) else schema
    try:
        converted = to_vertex_schema(document)
    except SchemaError:
        return
    _check_vertex_shape(converted)
