"""A PostgreSQL build's large binary values (vocabulary vectors, latent-term matrices), stored in parts.

One `bytea` value holds at most 1 GB, and one protocol message too: at 100k chunks the two latent-term
matrices were 188 and 372 MB, so a build of ~250k chunks could not be written as one value each. In
parts of PART_BYTES, rows of the build's `blobs` table, their only limit is memory.
"""
from __future__ import annotations

PART_BYTES = 64 << 20
TABLE = "CREATE TABLE {s}.blobs (name text NOT NULL, part int NOT NULL, data bytea NOT NULL, PRIMARY KEY (name, part));"


def write(cur, schema: str, name: str, data: bytes | None, part_bytes: int | None = None) -> None:
    """Store `data` under `name` as parts of at most `part_bytes` (nothing for None; one empty part for b"")."""
    if data is None:
        return
    step = part_bytes or PART_BYTES
    for part, start in enumerate(range(0, max(len(data), 1), step)):
        cur.execute(f"INSERT INTO {schema}.blobs VALUES (%s, %s, %s)", (name, part, data[start : start + step]))


def read(conn, schema: str, name: str) -> bytes | None:
    """The value stored under `name` (None if none was), its parts fetched in binary, one row each."""
    parts = [row[0] for row in conn.execute(f"SELECT data FROM {schema}.blobs WHERE name = %s ORDER BY part",
                                            (name,), binary=True)]
    return b"".join(parts) if parts else None


def present(conn, schema: str) -> bool:
    """Whether the build has a blobs table (builds written before it keep the values in `meta`'s columns)."""
    return conn.execute("SELECT to_regclass(%s)", (f"{schema}.blobs",)).fetchone()[0] is not None
