"""The schema the migrations leave, as one readable SQL file: `tracer_core/sql/schema.sql`.

Built from pg_catalog rather than by pg_dump so that the text is the same whatever client is
installed: tables with their columns, then constraints, indexes, functions and triggers, each
sorted by name, with no owners, privileges or server settings. Regenerate it after adding a
migration or changing a function:

    uv run python -m tracer_core.schema_dump postgresql://postgres@127.0.0.1:5432/postgres

(any server where the user may create a scratch database).
"""

from __future__ import annotations

import asyncio
import secrets
import sys
from pathlib import Path

import asyncpg

from tracer_core.db import with_database
from tracer_core.migrate import migrate

SCHEMA_FILE = Path(__file__).parent / "sql" / "schema.sql"
REGENERATE = "uv run python -m tracer_core.schema_dump <server-url>"
HEADER = (
    "-- The schema that tracer_core's migrations and SQL functions leave in a database.\n"
    f"-- Generated; do not edit. Regenerate with: {REGENERATE}\n"
)

_TABLES = """
SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname
"""
_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull,
       CASE a.attidentity WHEN 'a' THEN 'ALWAYS' WHEN 'd' THEN 'BY DEFAULT' END AS identity,
       a.attgenerated = 's' AS generated, pg_get_expr(d.adbin, d.adrelid) AS default_expr
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
"""
_CONSTRAINTS = """
SELECT c.relname AS table_name, k.conname, pg_get_constraintdef(k.oid) AS definition
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' ORDER BY c.relname, k.conname
"""
_INDEXES = """
SELECT pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public'
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
ORDER BY t.relname, c.relname
"""
_SEQUENCES = """
SELECT c.relname, format_type(s.seqtypid, NULL) AS type
FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' ORDER BY c.relname
"""
_FUNCTIONS = """
SELECT pg_get_functiondef(p.oid) AS definition
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' ORDER BY p.proname, pg_get_function_identity_arguments(p.oid)
"""
_TRIGGERS = """
SELECT pg_get_triggerdef(t.oid) AS definition
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND NOT t.tgisinternal ORDER BY c.relname, t.tgname
"""


def _column(row: asyncpg.Record) -> str:
    parts = [f"    {row['attname']} {row['type']}"]
    if row["identity"] is not None:
        parts.append(f"GENERATED {row['identity']} AS IDENTITY")
    elif row["generated"]:
        parts.append(f"GENERATED ALWAYS AS ({row['default_expr']}) STORED")
    elif row["default_expr"] is not None:
        parts.append(f"DEFAULT {row['default_expr']}")
    if row["attnotnull"]:
        parts.append("NOT NULL")
    return " ".join(parts)


async def dump_schema(conn: asyncpg.Connection) -> str:
    """The public schema of the database behind `conn`, as deterministic SQL text."""
    sections: list[str] = [HEADER]
    for table in await conn.fetch(_TABLES):
        columns = [_column(row) for row in await conn.fetch(_COLUMNS, table["oid"])]
        sections.append(f"CREATE TABLE {table['relname']} (\n" + ",\n".join(columns) + "\n);\n")
    sequences = [
        f"CREATE SEQUENCE {row['relname']} AS {row['type']};"
        for row in await conn.fetch(_SEQUENCES)
    ]
    constraints = [
        f"ALTER TABLE {row['table_name']} ADD CONSTRAINT {row['conname']} {row['definition']};"
        for row in await conn.fetch(_CONSTRAINTS)
    ]
    indexes = [f"{row['definition']};" for row in await conn.fetch(_INDEXES)]
    triggers = [f"{row['definition']};" for row in await conn.fetch(_TRIGGERS)]
    for block in (sequences, constraints, indexes):
        if block:
            sections.append("\n".join(block) + "\n")
    for row in await conn.fetch(_FUNCTIONS):
        sections.append(row["definition"].rstrip() + ";\n")
    if triggers:
        sections.append("\n".join(triggers) + "\n")
    return "\n".join(sections)


async def migrated_schema(server_url: str) -> str:
    """Migrate a scratch database on `server_url`'s server and dump its schema."""
    name = f"tracer_schema_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(with_database(server_url, "postgres"))
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        try:
            await migrate(with_database(server_url, name))
            conn = await asyncpg.connect(with_database(server_url, name))
            try:
                return await dump_schema(conn)
            finally:
                await conn.close()
        finally:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(f"usage: {REGENERATE}", file=sys.stderr)
        return 2
    SCHEMA_FILE.write_text(asyncio.run(migrated_schema(argv[0])), encoding="utf-8")
    print(f"wrote {SCHEMA_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
