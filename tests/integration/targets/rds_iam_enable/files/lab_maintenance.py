#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ask the lab daemon to apply pending RDS modifications (what `make lab-maintenance` does).

Usage: lab_maintenance.py STATE_DIR. Talks to STATE_DIR/control.sock (one JSON line each way)
and prints the daemon's reply; exits 1 if the daemon refused.
"""

from __future__ import annotations

import json
import os
import socket
import sys


def main():
    path = os.path.join(sys.argv[1], "control.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(path)
        sock.sendall(b'{"cmd": "maintenance"}\n')
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    reply = json.loads(data)
    print(json.dumps(reply))
    return 0 if reply.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
