"""MCP tool listings converted to OpenAI function tools."""

from __future__ import annotations

import re

from tracer_ai.mcp_toolbox import ToolSpec
from tracer_ai.openai_tools import function_tool, mcp_tools_to_openai, sanitize_schema

VALID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def test_names_are_sanitised_unique_and_resolvable() -> None:
    specs = [
        ToolSpec(
            "SLACK_SEND_MESSAGE",
            "Send",
            {"type": "object", "properties": {"channel": {"type": "string"}}},
        ),
        ToolSpec("github.create issue", "Create", {"type": "object", "properties": {}}),
        ToolSpec("github_create_issue", "Other", {"type": "object"}),
        ToolSpec("x" * 100, "Long", {}),
    ]
    toolset = mcp_tools_to_openai(specs, reserved=["list_alerts"])
    names = [tool["function"]["name"] for tool in toolset.tools]
    assert all(VALID.match(name) for name in names)
    assert len(set(names)) == 4
    assert names[0] == "SLACK_SEND_MESSAGE"
    assert {toolset.resolve(name) for name in names} == {spec.name for spec in specs}
    assert toolset.resolve("list_alerts") is None


def test_reserved_names_are_not_reused() -> None:
    toolset = mcp_tools_to_openai([ToolSpec("list_alerts", "theirs", {})], reserved=["list_alerts"])
    name = toolset.tools[0]["function"]["name"]
    assert name != "list_alerts"
    assert toolset.resolve(name) == "list_alerts"


def test_schemas_become_object_schemas() -> None:
    assert sanitize_schema(None) == {"type": "object", "properties": {}}
    wrapped = sanitize_schema({"type": "string"})
    assert wrapped["type"] == "object"
    assert wrapped["required"] == ["value"]
    cleaned = sanitize_schema(
        {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "title": "Args",
            "properties": {"a": {"type": "integer"}},
            "required": ["a", "ghost"],
        }
    )
    assert cleaned == {
        "type": "object",
        "properties": {"a": {"type": "integer"}},
        "required": ["a"],
    }


def test_function_tool_shape() -> None:
    tool = function_tool("list_alerts", "d" * 5000, {"type": "object", "properties": {}})
    assert tool["type"] == "function"
    assert len(tool["function"]["description"]) == 1024
