"""Chat about incidents: the LLM tool loop, its incident tools and the conversation store."""
