"""The local MCP sink: Slack, Jira, PagerDuty and Gmail tools that store each call."""
