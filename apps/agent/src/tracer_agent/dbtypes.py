"""The connection type every store accepts: a plain connection or one borrowed from a pool."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

if TYPE_CHECKING:
    Conn: TypeAlias = asyncpg.Connection[Any] | PoolConnectionProxy[Any]
else:  # the runtime classes are not generic
    Conn: TypeAlias = asyncpg.Connection | PoolConnectionProxy

# Where a store runs its statements: the pool, or a connection inside a caller's transaction.
Db: TypeAlias = "asyncpg.Pool | Conn"
