"""Drives s3ftp with Python's ftplib for test/e2e (ftplib_test.go).

usage: ftpclient.py HOST PORT USER PASSWORD passive|active session|cleanup DIR LOCALFILE

session: in the new directory DIR, STOR data.bin from LOCALFILE, check SIZE,
RETR (whole and with REST), NLST, MLSD, RNFR/RNTO, DELE and the refusals that
follow, MKD/RMD of a subdirectory, and STOR keep.bin (left for the Go side to
check in the store). cleanup: DELE keep.bin, refuse then do RMD DIR.

Every command's reply is checked; the transcript is printed to stdout. Exits
non-zero with the reason on stderr at the first unexpected reply.
"""

import ftplib
import hashlib
import sys

TIMEOUT = 30


class Failed(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Failed(what)


def expect_refused(code, fn, *args, **kwargs):
    """Calls fn and expects ftplib to raise a permanent error with code."""
    try:
        reply = fn(*args, **kwargs)
    except ftplib.error_perm as e:
        expect(str(e).startswith(code), "%s%r: reply %r, want %s" % (fn.__name__, args, str(e), code))
        print("refused %s%r: %s" % (fn.__name__, args, e))
        return
    raise Failed("%s%r succeeded with %r, want a %s refusal" % (fn.__name__, args, reply, code))


def retr(ftp, name, rest=None):
    """RETR name (from offset rest) and returns the bytes and final reply."""
    buf = bytearray()
    reply = ftp.retrbinary("RETR " + name, buf.extend, rest=rest)
    return bytes(buf), reply


def mkd(ftp, name, path):
    """MKD name, expecting 257 and the new directory's absolute path quoted.

    ftplib.FTP.mkd would return '' here: s3ftp (ftpserverlib) answers
    '257 Created dir "/x"', not RFC 959's '257 "/x" created', so the reply
    is checked raw and its form reported.
    """
    reply = ftp.sendcmd("MKD " + name)
    expect(reply.startswith("257") and ('"%s"' % path) in reply, "MKD %s: %r" % (name, reply))
    if not reply.startswith('257 "'):
        print("NOTE: MKD reply %r is not in RFC 959 form (257 \"PATH\" ...): ftplib's mkd() returns ''" % reply)


def session(ftp, d, data, local):
    mkd(ftp, d, "/" + d)
    ftp.cwd(d)
    expect(ftp.pwd() == "/" + d, "PWD is %r after CWD %s" % (ftp.pwd(), d))

    with open(local, "rb") as f:
        reply = ftp.storbinary("STOR data.bin", f)
    expect(reply.startswith("226"), "STOR: %r" % reply)
    expect(ftp.size("data.bin") == len(data), "SIZE data.bin = %r, want %d" % (ftp.size("data.bin"), len(data)))

    got, reply = retr(ftp, "data.bin")
    expect(reply.startswith("226"), "RETR: %r" % reply)
    expect(got == data, "RETR returned %d bytes, sha256 %s; want %d, %s"
           % (len(got), hashlib.sha256(got).hexdigest(), len(data), hashlib.sha256(data).hexdigest()))
    for off in (1, len(data) // 3 + 1, len(data) - 1):
        got, reply = retr(ftp, "data.bin", rest=off)
        expect(reply.startswith("226"), "RETR from %d: %r" % (off, reply))
        expect(got == data[off:], "RETR from %d returned %d bytes, want %d" % (off, len(got), len(data) - off))

    names = ftp.nlst()
    expect(names == ["data.bin"], "NLST = %r, want ['data.bin']" % names)
    entries = dict(ftp.mlsd())
    expect("data.bin" in entries, "MLSD lacks data.bin: %r" % entries)
    facts = entries["data.bin"]
    expect(facts.get("type") == "file" and facts.get("size") == str(len(data)),
           "MLSD data.bin facts %r, want type=file size=%d" % (facts, len(data)))

    reply = ftp.rename("data.bin", "moved.bin")
    expect(reply.startswith("250"), "RNTO: %r" % reply)
    expect(ftp.size("moved.bin") == len(data), "SIZE moved.bin after rename")
    expect_refused("550", ftp.size, "data.bin")
    expect_refused("550", ftp.rename, "data.bin", "other.bin")
    got, _ = retr(ftp, "moved.bin")
    expect(got == data, "RETR moved.bin differs from what was stored")

    mkd(ftp, "sub", "/%s/sub" % d)
    entries = dict(ftp.mlsd())
    expect(entries.get("sub", {}).get("type") == "dir", "MLSD lacks the directory sub: %r" % entries)
    reply = ftp.rmd("sub")
    expect(reply.startswith("250"), "RMD sub: %r" % reply)

    reply = ftp.delete("moved.bin")
    expect(reply.startswith("250"), "DELE: %r" % reply)
    expect_refused("550", ftp.delete, "moved.bin")
    expect_refused("550", retr, ftp, "moved.bin")
    expect(ftp.nlst() == [], "NLST after DELE = %r, want []" % ftp.nlst())

    with open(local, "rb") as f:
        reply = ftp.storbinary("STOR keep.bin", f)
    expect(reply.startswith("226"), "STOR keep.bin: %r" % reply)


def cleanup(ftp, d):
    expect_refused("550", ftp.rmd, d)  # keep.bin is still in it
    reply = ftp.delete(d + "/keep.bin")
    expect(reply.startswith("250"), "DELE %s/keep.bin: %r" % (d, reply))
    reply = ftp.rmd(d)
    expect(reply.startswith("250"), "RMD %s: %r" % (d, reply))
    expect(d not in ftp.nlst(), "NLST / still lists %s after RMD" % d)
    expect_refused("550", ftp.cwd, d)


def main():
    if len(sys.argv) != 9:
        sys.exit(__doc__)
    host, port, user, password, mode, step, d, local = sys.argv[1:]
    with open(local, "rb") as f:
        data = f.read()
    ftp = ftplib.FTP(timeout=TIMEOUT)
    ftp.set_debuglevel(1)  # the transcript, for failures
    print(ftp.connect(host, int(port)))
    print(ftp.login(user, password))
    ftp.set_pasv(mode == "passive")
    try:
        if step == "session":
            session(ftp, d, data, local)
        else:
            cleanup(ftp, d)
    except (Failed, ftplib.Error) as e:
        sys.stdout.flush()
        sys.exit("FAILED (%s %s): %s: %s" % (mode, step, type(e).__name__, e))
    print(ftp.quit())


if __name__ == "__main__":
    main()
