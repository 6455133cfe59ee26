"""One FTP session with Python's ftplib: log in, upload each FILE (binary,
STOR to its base name), printing "OK NAME" after each acknowledged (226)
upload, then QUIT. On an error it prints "ERR ..." and exits with status 1.

usage: upload.py HOST PORT USER PASSWORD SOURCE_IP pasv|epsv DELAY FILE...

SOURCE_IP is the address the control and data connections come from; with
pasv the data connection goes to the address the 227 reply gives (not to the
control connection's peer, ftplib's default), with epsv to the control
connection's peer. DELAY (seconds) is slept between uploads.
"""
import ftplib
import os
import sys
import time


class Client(ftplib.FTP):
    mode = "pasv"
    trust_server_pasv_ipv4_address = True  # use the host PASV advertises

    def makepasv(self):
        if self.mode == "epsv":
            return ftplib.parse229(self.sendcmd("EPSV"), self.sock.getpeername())
        return super().makepasv()


def main():
    host, port, user, password, source, mode, delay = sys.argv[1:8]
    files = sys.argv[8:]
    try:
        c = Client(source_address=(source, 0), timeout=60)
        c.mode = mode
        c.connect(host, int(port))
        c.login(user, password)
        for i, path in enumerate(files):
            if i and float(delay) > 0:
                time.sleep(float(delay))
            name = os.path.basename(path)
            with open(path, "rb") as f:
                c.storbinary("STOR " + name, f)
            print("OK " + name, flush=True)
        c.quit()
    except Exception as e:  # any failure ends the session: report it
        print("ERR %s: %s" % (type(e).__name__, e), flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
