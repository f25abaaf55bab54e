"""The console: server-rendered pages for on-call engineers and admins, served by the agent.

Signed in with an API key (engineer or admin) into a server-side session; every form carries
the session's CSRF token. Pages read the same stores the API uses, and actions call the same
code as the API endpoints. See README.md, "The console".
"""
