"""A Quack server for the tests: serves FILE on 127.0.0.1:PORT with TOKEN, loading the
quack and httpfs extensions from the wheels in EXTENSION_DIR (a site-packages). Prints
`serving` once it accepts connections, then serves until killed.

    python quack_server.py FILE PORT TOKEN EXTENSION_DIR
"""

import sys
import time
from pathlib import Path

import duckdb


def extension(site: Path, name: str) -> str:
    found = sorted(site.glob(f"duckdb_extension_{name}/extensions/*/{name}.duckdb_extension"))
    if not found:
        sys.exit(f"no {name} extension under {site}")
    return str(found[-1])


def main() -> None:
    file, port, token, site = sys.argv[1], int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
    con = duckdb.connect(file, config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})
    for name in ("httpfs", "quack"):
        con.execute(f"LOAD '{extension(site, name)}'")
    con.execute(f"CALL quack_serve('quack:127.0.0.1:{port}', token => ?)", [token])
    print("serving", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
