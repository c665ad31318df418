"""Hold 1,100 idle connections to the status page (issue 19, item 5).

usage: idle_connections.py PORT READY_FILE RELEASE_FILE MAX_SECONDS

Opens the connections non-blocking (those beyond the listen backlog wait
in SYN_SENT), sends nothing, writes their count to READY_FILE and holds
them until RELEASE_FILE exists or MAX_SECONDS have passed.
"""
import os
import socket
import sys
import time

port, ready, release, hold = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
socks = []
for _ in range(1100):
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    socks.append(s)
with open(ready, "w") as f:
    f.write(str(len(socks)))
end = time.time() + hold
while not os.path.exists(release) and time.time() < end:
    time.sleep(0.1)
for s in socks:
    s.close()
