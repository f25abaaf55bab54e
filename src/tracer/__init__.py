"""The `tracer` command: one front door to the processor, the agent and their tools."""
