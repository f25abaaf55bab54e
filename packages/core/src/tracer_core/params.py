"""Types for ids that arrive in paths and query strings.

PostgreSQL's `bigint` holds int64: a larger number reaching SQL fails inside the driver and
answers 500. Declaring the bound on the parameter makes it a 422 with a clear message first.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le

INT64_MAX = 2**63 - 1

RowId = Annotated[int, Ge(1), Le(INT64_MAX)]
"""A database row id (`bigint` / `bigserial`): 1 to 2^63-1."""
