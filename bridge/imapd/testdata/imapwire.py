"""A small IMAP client for the conformance suite: raw exchanges with full
control of literals, tags and bytes (Python's imaplib hides most of that).
Standard library only.

Each command is one exchange: Conn.cmd sends it and returns a Resp with
the untagged responses (literals inlined, and also kept apart) and the
tagged status. A synchronizing literal waits for the server's "+"; when
the server answers with a tagged status instead, the command ends there
(as it must, RFC 3501 §7.5).
"""

import re
import socket


class Literal:
    """A literal argument: sync waits for "+", binary sends literal8."""

    def __init__(self, data, sync=True, binary=False):
        self.data = data if isinstance(data, bytes) else data.encode()
        self.sync = sync
        self.binary = binary

    def header(self):
        plus = b"" if self.sync else b"+"
        tilde = b"~" if self.binary else b""
        return tilde + b"{" + str(len(self.data)).encode() + plus + b"}\r\n"


class Resp:
    def __init__(self):
        self.untagged = []  # text of each untagged response, literals inlined
        self.literals = []  # the literal payloads, in order
        self.cont = []  # continuation requests seen
        self.status = None  # OK, NO, BAD (or BYE if the server hung up)
        self.text = ""  # tagged line after the status

    def __repr__(self):
        return "Resp(%s %r, %d untagged: %r)" % (self.status, self.text, len(self.untagged), self.untagged[:8])

    def find(self, pattern):
        """The first untagged response matching the regex, or None."""
        r = re.compile(pattern, re.I | re.S)
        for u in self.untagged:
            m = r.search(u)
            if m:
                return m
        return None

    def all(self, pattern):
        r = re.compile(pattern, re.I | re.S)
        return [m for u in self.untagged for m in [r.search(u)] if m]

    def code(self):
        m = re.match(r"\[([^\]]*)\]", self.text)
        return m.group(1) if m else ""


class Conn:
    counter = 0  # exchanges, over every connection

    def __init__(self, host, port, timeout=15):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.f = self.sock.makefile("rb")
        self.n = 0
        self.greeting = self.line()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def rawline(self):
        line = self.f.readline()
        if not line:
            raise EOFError("connection closed")
        return line

    def line(self):
        """One response line with any literals read into it (latin-1 text)."""
        text, _ = self.response()
        return text

    def response(self):
        parts, lits = [], []
        while True:
            line = self.rawline()
            m = re.search(rb"~?\{(\d+)\}\r\n$", line)
            if not m:
                parts.append(line.rstrip(b"\r\n"))
                break
            n = int(m.group(1))
            data = self.f.read(n)
            if len(data) != n:
                raise EOFError("short literal")
            lits.append(data)
            parts.append(line[:-2])
            parts.append(data)
        return b"".join(parts).decode("latin-1"), lits

    def send(self, data):
        self.sock.sendall(data)

    def cmd(self, *args, tag=None):
        """Sends one command; args are str/bytes (joined by spaces) or Literal."""
        Conn.counter += 1
        self.n += 1
        tag = tag or "c%d" % self.n
        resp = Resp()
        out = tag.encode()
        for a in args:
            out += b" "
            if isinstance(a, Literal):
                out += a.header()
                self.send(out)
                out = b""
                if a.sync:
                    while True:
                        text, lits = self.response()
                        if text.startswith("+"):
                            resp.cont.append(text)
                            break
                        if self._untagged_or_done(resp, tag, text, lits):
                            return resp
                out = a.data
            else:
                out += a if isinstance(a, bytes) else a.encode()
        self.send(out + b"\r\n")
        return self.collect(resp, tag)

    def collect(self, resp, tag):
        while True:
            try:
                text, lits = self.response()
            except (EOFError, OSError):
                resp.status = resp.status or "BYE"
                return resp
            if text.startswith("+"):
                resp.cont.append(text)
                continue
            if self._untagged_or_done(resp, tag, text, lits):
                return resp

    def _untagged_or_done(self, resp, tag, text, lits):
        if text.startswith(tag + " "):
            rest = text[len(tag) + 1:]
            resp.status, _, resp.text = rest.partition(" ")
            resp.status = resp.status.upper()
            return True
        resp.untagged.append(text[2:] if text.startswith("* ") else text)
        resp.literals.extend(lits)
        return False

