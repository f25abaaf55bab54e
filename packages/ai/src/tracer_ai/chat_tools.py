"""Which connected-app tools a chat may use, and how chat tool-router sessions are locked down.

Chat reads untrusted text (log messages, tool results), so a prompt injection must not be
able to run code or change anything on its own. A chat session therefore has Composio's
sandbox (workbench and bash tools) and connection management turned off, exposes per
toolkit only the read tools below plus an explicit allow-list of write tools, and refuses
destructive tools by tag. The chat engine offers the model nothing else, and runs a write
tool only after the engineer confirms it in a second request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

CHAT_READ_TOOLS: dict[str, tuple[str, ...]] = {
    "slack": ("SLACK_FETCH_CONVERSATION_HISTORY", "SLACK_FETCH_MESSAGE_THREAD_FROM_A_CONVERSATION"),
    "jira": ("JIRA_SEARCH_ISSUES", "JIRA_LIST_ISSUE_COMMENTS"),
    "pagerduty": ("PAGERDUTY_FETCH_INCIDENT_LIST", "PAGERDUTY_RETRIEVE_INCIDENT_BY_INCIDENT_ID"),
    "gmail": ("GMAIL_FETCH_EMAILS",),
}

# Writes a conversation may ask for (post in an incident's thread, comment on or open an
# issue); each one runs only after the engineer's confirmation.
CHAT_WRITE_TOOLS: dict[str, tuple[str, ...]] = {
    "slack": ("SLACK_SEND_MESSAGE",),
    "jira": ("JIRA_ADD_COMMENT", "JIRA_CREATE_ISSUE"),
}

_READS = frozenset(tool for tools in CHAT_READ_TOOLS.values() for tool in tools)
_WRITES = frozenset(tool for tools in CHAT_WRITE_TOOLS.values() for tool in tools)


def chat_may_offer(tool: str) -> bool:
    """Only allow-listed app tools reach the model; meta and sandbox tools never do."""
    return tool in _READS or tool in _WRITES


def needs_confirmation(tool: str) -> bool:
    return tool in _WRITES


def chat_tools(toolkits: Sequence[str]) -> list[str]:
    return [
        tool
        for toolkit in toolkits
        for tool in (*CHAT_READ_TOOLS.get(toolkit, ()), *CHAT_WRITE_TOOLS.get(toolkit, ()))
    ]


def chat_session_options(toolkits: Sequence[str]) -> dict[str, Any]:
    """Keyword arguments for the composio SDK's session `create` that lock a chat down."""
    return {
        "tools": {
            toolkit: {
                "enable": [*CHAT_READ_TOOLS.get(toolkit, ()), *CHAT_WRITE_TOOLS.get(toolkit, ())]
            }
            for toolkit in toolkits
        },
        "tags": {"disable": ["destructiveHint"]},
        "sandbox": {"enable": False, "enable_proxy_execution": False},
        "manage_connections": False,
        "preload": {"tools": chat_tools(toolkits)},
    }
