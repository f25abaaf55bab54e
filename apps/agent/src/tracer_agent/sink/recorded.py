"""Sink tools that advertise Composio's recorded input schemas and enforce them.

The real services refuse a call whose arguments do not match the tool's schema (an unknown
argument, a missing one, a wrong type), so the sink checks every call against the recorded
schema (`tracer_ai.destinations.schemas`) before its tool function runs, and lists exactly
that schema to MCP clients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools.base import Tool

from tracer_ai.destinations.schemas import argument_problems, recorded_schema

if TYPE_CHECKING:
    from mcp.server.mcpserver.context import Context


class RecordedSchemaTool(Tool):
    """A tool whose `parameters` is a recorded schema that every call must satisfy."""

    async def run(
        self,
        arguments: dict[str, Any],
        context: Context[Any, Any],
        convert_result: bool = False,
    ) -> Any:
        problems = argument_problems(self.parameters, arguments)
        if problems:
            raise ToolError(f"Invalid request data provided for {self.name}: {'; '.join(problems)}")
        return await super().run(arguments, context, convert_result)


def recorded_tools(functions: dict[str, Callable[..., Any]]) -> list[Tool]:
    """One tool per function; tools with a recorded schema advertise and enforce it."""
    tools: list[Tool] = []
    for name, function in functions.items():
        tool = Tool.from_function(function, name=name)
        schema = recorded_schema(name)
        if schema is not None:
            fields = {field: getattr(tool, field) for field in Tool.model_fields}
            fields["parameters"] = schema.input_schema
            tool = RecordedSchemaTool(**fields)
        tools.append(tool)
    return tools
