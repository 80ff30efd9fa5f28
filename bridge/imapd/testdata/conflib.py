"""Shared parts of the IMAP conformance suite: the Suite (checks and
failures), the test messages and small parsers of responses."""

import re

from imapwire import Conn, Literal

SIMPLE = (
    "From: Bob Builder <bob@b.test>\r\n"
    "To: Alice <alice@a.test>\r\n"
    "Cc: carol@c.test\r\n"
    "Subject: Hello there\r\n"
    "Date: Sun, 10 Mar 2024 12:00:00 +0000\r\n"
    "Message-ID: <simple@b.test>\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Hello World, this is the body.\r\n"
    "Second line with Needle inside.\r\n"
)

MULTI = (
    "From: =?utf-8?q?J=C3=BCrgen?= <j@d.test>\r\n"
    "To: alice@a.test\r\n"
    "Subject: =?utf-8?b?R3LDvMOfZQ==?= multipart\r\n"
    "Date: Mon, 11 Mar 2024 08:30:00 +0100\r\n"
    "Message-ID: <multi@d.test>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"sep\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--sep\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "\r\n"
    "first part text\r\n"
    "--sep\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAECAwQFBgc=\r\n"
    "--sep--\r\n"
)

COMMENTED = (
    "From: eve(work)@e.test (Eve Example)\r\n"
    "To: \"Doe, Jane\" <jane@d.test>\r\n"
    "Subject: comments\r\n"
    "Date: Tue, 12 Mar 2024 09:00:00 +0000\r\n"
    "\r\n"
    "A body about substrings: SubStringMatching.\r\n"
)


class Suite:
    def __init__(self, args):
        self.a = args
        self.failures = []
        self.dovecot = args.server == "dovecot"

    def conn(self, login=True):
        c = Conn(self.a.host, self.a.port)
        self.check(c.greeting.startswith("* OK"), "greeting %r" % c.greeting)
        if login:
            r = c.cmd("LOGIN", q(self.a.user), q(self.a.password))
            self.ok(r, "LOGIN")
        return c

    def check(self, cond, what):
        if not cond:
            self.failures.append(what)
            print("FAIL:", what, flush=True)
        return cond

    def ok(self, r, what):
        return self.check(r.status == "OK", "%s: want OK, got %r" % (what, r))

    def no(self, r, what):
        return self.check(r.status == "NO", "%s: want NO, got %r" % (what, r))

    def bad(self, r, what):
        return self.check(r.status == "BAD", "%s: want BAD, got %r" % (what, r))

    def refused(self, r, what):
        """NO or BAD, with a human text, never an internal error."""
        return self.check(r.status in ("NO", "BAD") and "SERVERBUG" not in r.text and len(r.text) > 2,
                          "%s: want NO or BAD with a text, got %r" % (what, r))

    def has(self, r, pattern, what):
        return self.check(r.find(pattern) is not None, "%s: no untagged %r in %r" % (what, pattern, r))

    def hasnt(self, r, pattern, what):
        return self.check(r.find(pattern) is None, "%s: unexpected untagged %r in %r" % (what, pattern, r))

def q(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

def names(r, kind="LIST"):
    """Mailbox names of LIST/LSUB responses, unquoted, with their attributes."""
    out = {}
    for u in r.untagged:
        m = re.match(kind + r' \(([^)]*)\) (?:"(?:\\.|[^"])*"|NIL) (.*)$', u, re.I)
        if m:
            name = m.group(2)
            if name.startswith('"'):
                name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            out[name] = m.group(1).split()
    return out

def caps(r):
    text = " ".join(r.untagged) + " " + r.text
    m = re.search(r"CAPABILITY ([^\]]*)", text, re.I)
    return set(m.group(1).upper().split()) if m else set()

def append(s, c, box, msg, *opts, what="APPEND"):
    r = c.cmd("APPEND", box, *opts, Literal(msg))
    s.ok(r, what)
    m = re.match(r"\[APPENDUID (\d+) (\d+)\]", r.text)
    s.check(m is not None, "%s: APPENDUID in %r" % (what, r.text))
    return int(m.group(2)) if m else 0

def numset(text):
    """The numbers of an IMAP sequence set such as "2,4:6" (no "*")."""
    out = set()
    for part in text.split(","):
        a, _, b = part.partition(":")
        lo, hi = sorted((int(a), int(b or a)))
        out.update(range(lo, hi + 1))
    return out
