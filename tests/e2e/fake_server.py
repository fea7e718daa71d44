#!/usr/bin/env python3
"""A TCP listener that records every byte it receives, for tests/e2e/clone_attack.sh.

Python 3 standard library only. Listens on 127.0.0.1 on a port the OS picks, writes that port to
--port-file (atomically) once it accepts connections, and appends to --record, for every
connection, a line `== connection N from HOST:PORT` followed by the bytes received on it, exactly
as they came (flushed as they arrive). It never answers: a client waits for a reply until its own
timeout. Runs until killed (SIGTERM/SIGINT).

It stands in for the server a hostile repository names (`redis://127.0.0.1:PORT`): the test
passes only when the record stays empty.
"""

import argparse
import os
import signal
import socket
import sys
import threading

lock = threading.Lock()
count = 0


def serve(conn, peer, record):
    global count
    with lock:
        count += 1
        n = count
        with open(record, "ab") as f:
            f.write(f"== connection {n} from {peer[0]}:{peer[1]}\n".encode())
    with conn:
        conn.settimeout(30)
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            with lock, open(record, "ab") as f:
                f.write(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--record", required=True)
    args = ap.parse_args()
    open(args.record, "ab").close()
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.getsockname()[1]))
    os.replace(tmp, args.port_file)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            conn, peer = srv.accept()
            threading.Thread(target=serve, args=(conn, peer, args.record), daemon=True).start()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
