"""One camera session for test/bench (burst_test.go): Python's ftplib in
active mode (PORT).

usage: burst.py HOST PORT USER PASSWORD FILES SIZE EVERY DIR [SOURCE]

Logs in, prepares FILES pictures of SIZE random bytes (each stamped with its
index) and their SHA-256, prints "ready", waits for a line on stdin, then per
picture i: every EVERY pictures enters /DIR/HH (HH = 10 + i // EVERY) as a
camera does (CWD /, then CWD into each component, MKD where CWD fails), and
STORs imgNNNNN.jpg. Then prints one line per picture, "file I SECONDS SHA256"
when acknowledged (226) or "error I SECONDS MESSAGE"; SECONDS covers the
directory handling, PORT, STOR and the 226. SOURCE is the local address to
connect from (and so the one PORT gives).
"""

import ftplib
import hashlib
import io
import os
import struct
import sys
import time

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
files, size, every, base = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), sys.argv[8]

ftp = ftplib.FTP()
source = (sys.argv[9], 0) if len(sys.argv) > 9 else None
ftp.connect(host, port, timeout=60, source_address=source)
ftp.login(user, password)
ftp.set_pasv(False)
buf = bytearray(os.urandom(size))
sums = []
for i in range(files):
    struct.pack_into(">Q", buf, 0, i)
    sums.append(hashlib.sha256(buf).hexdigest())
print("ready", flush=True)
sys.stdin.readline()


def enter(path):
    ftp.cwd("/")
    for part in path.split("/"):
        try:
            ftp.cwd(part)
        except ftplib.error_perm:
            ftp.mkd(part)
            ftp.cwd(part)


results = []
for i in range(files):
    struct.pack_into(">Q", buf, 0, i)
    t0 = time.perf_counter()
    try:
        if i % every == 0:
            enter("%s/%02d" % (base, 10 + i // every))
        ftp.storbinary("STOR img%05d.jpg" % i, io.BytesIO(buf), blocksize=65536)
        results.append("file %d %.6f %s" % (i, time.perf_counter() - t0, sums[i]))
    except (ftplib.Error, OSError) as e:
        results.append("error %d %.6f %s" % (i, time.perf_counter() - t0, str(e).replace("\n", " ")))
print("\n".join(results), flush=True)
try:
    ftp.quit()
except (ftplib.Error, OSError):
    pass
