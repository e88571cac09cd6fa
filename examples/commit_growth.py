"""Why a save's commit grows with the file: DuckDB alone, no server. Each round opens the
file as the server's write instance does (each commit its own checkpoint), appends a batch
of rows keyed by random UUIDs in one transaction, commits, and closes. With a key on the
column the commit writes the whole index again every time (DuckDB issue #24848: the ART is
serialized in full at each checkpoint), so it grows with the rows already stored; without
one it stays flat. The storage version decides how much: `v1.0.0` (what the server gives
new files, so that DuckDB 1.0 to 2.0 read them) against `v1.4.0`.

    ~/.cache/healthsim-mcp/venv-duckdb-1.5.5/bin/python examples/commit_growth.py [ROUNDS] [ROWS]

Prints, per case, the commit of each round in ms and the file's size at the end.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import duckdb

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 12
ROWS = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000


def commits(path: Path, storage: str, keyed: bool) -> list[float]:
    con = duckdb.connect()
    con.execute(f"ATTACH '{path}' AS db (STORAGE_VERSION '{storage}')")
    key = " PRIMARY KEY" if keyed else ""
    # As our layout stores key columns (uncompressed, see schema.rs).
    con.execute(f"CREATE TABLE db.t (id VARCHAR USING COMPRESSION uncompressed{key}, scenario VARCHAR, body VARCHAR)")
    con.close()
    times = []
    for round_ in range(ROUNDS):
        con = duckdb.connect(str(path), config={"checkpoint_threshold": "0b"})
        con.execute("PRAGMA disable_checkpoint_on_shutdown")
        ids = [str(uuid.uuid4()) for _ in range(ROWS)]
        con.execute("BEGIN")
        con.execute("INSERT INTO t SELECT unnest($1), 's' || $2, repeat('x', 200)", [ids, round_])
        start = time.perf_counter()
        con.execute("COMMIT")
        times.append((time.perf_counter() - start) * 1000)
        con.close()
    return times


def main() -> None:
    print(f"DuckDB {duckdb.__version__}: {ROUNDS} commits of {ROWS:,} rows each, one file per case")
    with tempfile.TemporaryDirectory() as tmp:
        for storage in ("v1.0.0", "v1.4.0"):
            for keyed in (True, False):
                path = Path(tmp) / f"{storage}-{keyed}.duckdb"
                times = commits(path, storage, keyed)
                first, last = statistics.median(times[:3]), statistics.median(times[-3:])
                label = f"{storage}, {'a key' if keyed else 'no key'}"
                print(
                    f"{label:18s} first 3 {first:6.1f} ms, last 3 {last:6.1f} ms, "
                    f"file {path.stat().st_size / 2**20:5.1f} MiB | {' '.join(f'{t:.0f}' for t in times)}"
                )


if __name__ == "__main__":
    main()
