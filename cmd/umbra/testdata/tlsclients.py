#!/usr/bin/env python3
"""Python's imaplib and smtplib trust the bridge through its exported CA.

Usage: tlsclients.py SETTINGS.json

SETTINGS.json holds {"cafile", "username", "password", "imap": [...],
"imaps": [...], "smtp": [...]}, each list the host:port addresses of one
server (127.0.0.1 and, where the machine has it, [::1]). For every address
the script connects to the IP address and verifies the certificate with
ssl.create_default_context(cafile=...) under two names, "localhost" and the
IP address itself: IMAP4.starttls, IMAP4_SSL (implicit TLS, RFC 8314) and
SMTP.starttls, each followed by a login. It also checks that the system's
trust store alone refuses the certificate, and prints "ok". Any failure
raises and exits non-zero with a traceback.
"""
import imaplib
import json
import smtplib
import socket
import ssl
import sys


def hostport(s):
    host, port = s.rsplit(":", 1)
    return host.strip("[]"), int(port)


class IMAP4Named(imaplib.IMAP4_SSL):
    """IMAP4_SSL connected to an IP address, verifying the certificate for
    another name."""

    def __init__(self, addr, name, ctx):
        self.name = name
        host, port = hostport(addr)
        super().__init__(host, port, ssl_context=ctx, timeout=30)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self.name)


def login_select(m, user, password):
    """Log in on m, open INBOX and log out."""
    for typ, _ in (m.login(user, password), m.select("INBOX")):
        assert typ == "OK", typ
    m.logout()


def imap_starttls(addr, name, ctx, user, password):
    m = imaplib.IMAP4(*hostport(addr), timeout=30)
    # starttls verifies the certificate for self.host, the address
    # connected to; the name it should be verified for is set here.
    m.host = name
    typ, _ = m.starttls(ssl_context=ctx)
    assert typ == "OK", typ
    login_select(m, user, password)


def imaps(addr, name, ctx, user, password):
    login_select(IMAP4Named(addr, name, ctx), user, password)


def smtp_starttls(addr, name, ctx, user, password):
    s = smtplib.SMTP(*hostport(addr), timeout=30)
    s._host = name  # as m.host above: the name starttls verifies
    s.starttls(context=ctx)
    s.login(user, password)
    s.quit()


def main():
    with open(sys.argv[1]) as f:
        st = json.load(f)
    ctx = ssl.create_default_context(cafile=st["cafile"])
    user, password = st["username"], st["password"]
    for kind, check in (("imap", imap_starttls), ("imaps", imaps), ("smtp", smtp_starttls)):
        for addr in st[kind]:
            for name in ("localhost", hostport(addr)[0]):
                check(addr, name, ctx, user, password)
                print(f"tlsclients.py: {kind} {addr} as {name}: ok", file=sys.stderr)
    try:
        imaps(st["imaps"][0], "localhost", ssl.create_default_context(), user, password)
    except ssl.SSLCertVerificationError:
        pass
    else:
        raise AssertionError("the system's trust store alone accepted the bridge's certificate")
    print("ok")


if __name__ == "__main__":
    main()
