#!/usr/bin/python3
"""Plays systemd's side of sd_notify for the lab: binds a datagram socket at
SOCKET and writes each datagram to LOG as one line (its lines joined by '|').
On the first READY=1 it runs CHECK (a shell command) at once and writes
'READY-CHECK ok' or 'READY-CHECK failed' after that line, so a test can tell
whether the daemon was really ready when it said so. Stops after SECONDS."""
import os
import socket
import subprocess
import sys
import time

path, log_path, check, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
os.chmod(path, 0o666)
deadline = time.monotonic() + seconds
checked = False
with open(log_path, "a", buffering=1) as log:
    log.write("LISTENING\n")
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(4096)
        except socket.timeout:
            break
        text = data.decode(errors="replace").rstrip("\n")
        log.write(text.replace("\n", "|") + "\n")
        if not checked and "READY=1" in text.split("\n"):
            checked = True
            passed = subprocess.run(["bash", "-c", check]).returncode == 0
            log.write("READY-CHECK %s\n" % ("ok" if passed else "failed"))
