"""Why a save's commit grows with the file: DuckDB alone, no server. Each round opens the
file as the server's write instance does (each commit its own checkpoint), appends a batch
of rows keyed by random UUIDs in one transaction, commits, and closes. With a key on the
column the commit writes the whole index again every time (DuckDB issue #24848: the ART is
serialized in full at each checkpoint), so it grows with the rows already stored; without
one it stays flat. The storage version decides how much: `v1.0.0` (what the server gives
new files, so that DuckDB 1.0 to 2.0 read them) against `v1.4.0`.

    ~/.cache/healthsim-mcp/venv-duckdb-1.5.5/bin/python examples/commit_growth.py [ROUNDS] [ROWS]

Prints, per case, the commit of each round in ms and the file's size at the end. Then
the experiment behind the server's commit strategy (README, "Saves that do not slow down"):
in a table without keys holding 0, 600,000 and 3,000,000 rows, per storage version, a
1-row and a 10,000-row commit to the WAL against the same commit checkpointed, and what a
read-only open costs with the WAL it must replay.
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


def wal_strategy() -> None:
    print("\nno key: commit to the WAL vs checkpointed, by rows already stored (ms, median of 3)")
    with tempfile.TemporaryDirectory() as tmp:
        for storage in ("v1.0.0", "v1.2.0"):
            path = Path(tmp) / f"wal-{storage}.duckdb"
            con = duckdb.connect()
            con.execute(f"ATTACH '{path}' AS db (STORAGE_VERSION '{storage}')")
            con.execute("CREATE TABLE db.t (id INTEGER, scenario VARCHAR, entity_id VARCHAR, body JSON)")
            con.close()
            held = 0
            for size in (0, 600_000, 3_000_000):
                con = duckdb.connect(str(path))
                con.execute(
                    f"INSERT INTO t SELECT i, 's' || (i // 10000), uuid()::VARCHAR, "
                    f"json_object('id', i, 'name', 'x' || i, 'pad', repeat('y', 150)) FROM range({held}, {size}) r(i)"
                )
                con.close()
                held = size
                cells = []
                for rows in (1, 10_000):
                    wal, ckpt = [], []
                    for _ in range(3):
                        con = duckdb.connect(str(path), config={"checkpoint_threshold": "1GB"})
                        con.execute("PRAGMA disable_checkpoint_on_shutdown")
                        con.execute("BEGIN")
                        con.execute(
                            f"INSERT INTO t SELECT i, 'new', uuid()::VARCHAR, json_object('id', i, 'pad', repeat('y', 150)) FROM range({rows}) r(i)"
                        )
                        start = time.perf_counter()
                        con.execute("COMMIT")
                        wal.append((time.perf_counter() - start) * 1000)
                        start = time.perf_counter()
                        con.execute("CHECKPOINT")
                        ckpt.append((time.perf_counter() - start) * 1000)
                        con.close()
                    cells.append(f"{rows:>6} rows: WAL {statistics.median(wal):5.1f}, checkpoint {statistics.median(ckpt):6.1f}")
                print(f"{storage} {size:>9,} rows | " + " | ".join(cells))
            replay = []
            for _ in range(6):
                con = duckdb.connect(str(path), config={"checkpoint_threshold": "1GB"})
                con.execute("PRAGMA disable_checkpoint_on_shutdown")
                con.execute("INSERT INTO t SELECT i, 'w', uuid()::VARCHAR, json_object('id', i, 'pad', repeat('y', 150)) FROM range(10000) r(i)")
                con.close()
                wal_mib = Path(f"{path}.wal").stat().st_size / 2**20
                opens = []
                for _ in range(3):
                    start = time.perf_counter()
                    duckdb.connect(str(path), read_only=True).close()
                    opens.append((time.perf_counter() - start) * 1000)
                replay.append(f"{wal_mib:.1f} MiB {min(opens):.0f} ms")
            print(f"{storage} read-only open with a WAL of: " + ", ".join(replay))


if __name__ == "__main__":
    main()
    wal_strategy()
