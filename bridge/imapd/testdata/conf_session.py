"""Conformance groups: not authenticated, IDLE, bad syntax, and imaplib as a client."""

import base64
import imaplib
import re
import time

from conflib import MULTI, SIMPLE, append, caps, q
from imapwire import Conn, Literal, Resp

def test_preauth(s):
    c = s.conn(login=False)
    r = c.cmd("CAPABILITY")
    s.ok(r, "CAPABILITY")
    cs = caps(r)
    s.check("IMAP4REV1" in cs, "IMAP4rev1 advertised: %s" % cs)
    s.check("AUTH=PLAIN" in cs, "AUTH=PLAIN advertised: %s" % cs)
    # RFC 7888 §5: a server advertises LITERAL+ or LITERAL-, not both.
    # DIFF: Dovecot offers LITERAL+, the bridge LITERAL-.
    s.check(("LITERAL+" in cs) != ("LITERAL-" in cs), "exactly one of LITERAL+/LITERAL-: %s" % cs)
    s.ok(c.cmd("NOOP"), "NOOP before login")
    r = c.cmd("LOGIN", q(s.a.user), q("wrong password"))
    s.no(r, "LOGIN with a wrong password")
    # DIFF: Dovecot's login process hangs up after a few bad commands, so
    # each of these gets a connection of its own.
    for args, what in [(("SELECT", "INBOX"), "SELECT before login"), (("LIST", '""', '"*"'), "LIST before login"),
                       (("LOGIN",), "LOGIN without arguments"), (("LOGIN", q(s.a.user)), "LOGIN without a password")]:
        b = s.conn(login=False)
        s.refused(b.cmd(*args), what)
        b.close()
    # A literal far too large is refused at once: no "+", no wait for bytes.
    c.sock.settimeout(10)
    c.send(b"big LOGIN {4294967295}\r\n")
    Conn.counter += 1
    try:
        line = c.line()
        if s.dovecot:
            # DIFF: Dovecot hangs up ("* BYE Literal size too large"); the
            # bridge answers NO [TOOBIG] and the connection goes on.
            s.check(line.startswith("* BYE"), "Dovecot: LOGIN {4294967295}: %r" % line)
            c.close()
            c = s.conn(login=False)
        else:
            s.check(line.startswith("big NO [TOOBIG]"), "LOGIN {4294967295}: %r" % line)
            s.ok(c.cmd("NOOP"), "NOOP after the refused literal")
    except OSError as e:
        s.check(False, "LOGIN {4294967295}: no answer (%s)" % e)
    # ID (RFC 2971), before login too.
    s.check("ID" in cs, "ID advertised: %s" % cs)
    r = c.cmd("ID", '("name" "conformance" "version" "1")')
    s.ok(r, "ID")
    s.has(r, r'^ID (\(("[^"]*" ("[^"]*"|NIL) ?)*\)|NIL)$', "ID response")
    s.ok(c.cmd("ID", "NIL"), "ID NIL")
    # Literals for both arguments.
    r = c.cmd("LOGIN", Literal(s.a.user), Literal(s.a.password))
    s.ok(r, "LOGIN with synchronizing literals")
    s.check(len(r.cont) == 2, "two continuation requests, got %r" % r.cont)
    r = c.cmd("LOGOUT")
    s.has(r, r"^BYE", "LOGOUT")
    s.ok(r, "LOGOUT")
    c.close()

    # AUTHENTICATE PLAIN with an initial response (SASL-IR, RFC 4959).
    c = s.conn(login=False)
    ir = base64.b64encode(b"\0" + s.a.user.encode() + b"\0" + s.a.password.encode()).decode()
    s.ok(c.cmd("AUTHENTICATE", "PLAIN", ir), "AUTHENTICATE PLAIN with SASL-IR")
    s.refused(c.cmd("LOGIN", q(s.a.user), q(s.a.password)), "LOGIN when logged in")
    c.cmd("LOGOUT")
    c.close()

    # AUTHENTICATE PLAIN answered after "+".
    c = s.conn(login=False)
    Conn.counter += 1
    c.send(b"a1 AUTHENTICATE PLAIN\r\n")
    line = c.line()
    s.check(line.startswith("+"), "AUTHENTICATE continuation: %r" % line)
    c.send(ir.encode() + b"\r\n")
    r = c.collect(Resp(), "a1")
    s.ok(r, "AUTHENTICATE PLAIN after continuation")
    c.cmd("LOGOUT")
    c.close()

    # Garbage before login: BAD (the bridge then also says BYE, as
    # imapserver refuses a second chance to cross-protocol traffic).
    c = s.conn(login=False)
    s.bad(c.cmd("FROBNICATE"), "unknown command before login")
    c.close()

def test_idle(s):
    c = s.conn()
    s.ok(c.cmd("CREATE", "idl"), "CREATE idl")
    s.ok(c.cmd("SELECT", "idl"), "SELECT idl")
    Conn.counter += 1
    c.send(b"i1 IDLE\r\n")
    line = c.line()
    s.check(line.startswith("+"), "IDLE continuation: %r" % line)
    d = s.conn()
    append(s, d, "idl", SIMPLE, what="APPEND during IDLE")
    c.sock.settimeout(10)
    try:
        line = c.line()
        while "EXISTS" not in line and not line.startswith("i1 "):
            line = c.line()
        s.check(line == "* 1 EXISTS", "IDLE reports new mail: %r" % line)
    except OSError as e:
        s.check(False, "IDLE reported nothing: %s" % e)
    d.cmd("SELECT", "idl")
    d.cmd("STORE", "1", "+FLAGS.SILENT", "(\\Flagged)")
    try:
        line = c.line()
        while "FETCH" not in line and not line.startswith("i1 "):
            line = c.line()
        s.check(re.match(r"\* 1 FETCH \(.*\\Flagged", line) is not None, "IDLE reports flags: %r" % line)
    except OSError as e:
        s.check(False, "IDLE reported no flags: %s" % e)
    c.send(b"DONE\r\n")
    r = c.collect(Resp(), "i1")
    s.ok(r, "IDLE ended by DONE")
    s.ok(c.cmd("NOOP"), "NOOP after IDLE")
    # IDLE without a selected mailbox is allowed too.
    s.ok(d.cmd("UNSELECT"), "UNSELECT before IDLE")
    Conn.counter += 1
    d.send(b"i2 IDLE\r\n")
    s.check(d.line().startswith("+"), "IDLE when authenticated")
    d.send(b"DONE\r\n")
    s.ok(d.collect(Resp(), "i2"), "DONE")
    d.cmd("LOGOUT")
    d.close()
    c.cmd("LOGOUT")
    c.close()

def test_syntax(s):
    c = s.conn()
    s.bad(c.cmd("FROBNICATE"), "unknown command")
    s.bad(c.cmd("SELECT"), "SELECT without a mailbox")
    s.bad(c.cmd("LIST"), "LIST without arguments")
    s.bad(c.cmd("LIST", '""'), "LIST with one argument")
    s.bad(c.cmd("STATUS", "INBOX"), "STATUS without items")
    s.bad(c.cmd("STATUS", "INBOX", "(MESSAGES"), "STATUS with an unbalanced list")
    s.refused(c.cmd("FETCH", "1", "FLAGS"), "FETCH with no mailbox selected")
    s.refused(c.cmd("STORE", "1", "+FLAGS", "(\\Seen)"), "STORE with no mailbox selected")
    s.refused(c.cmd("EXPUNGE"), "EXPUNGE with no mailbox selected")
    s.refused(c.cmd("SEARCH", "ALL"), "SEARCH with no mailbox selected")
    s.refused(c.cmd("COPY", "1", "INBOX"), "COPY with no mailbox selected")
    s.refused(c.cmd("UID", "FROB", "1"), "UID with an unknown command")
    for args in [("SELECT", "INBOX", "extra", "args"), ("NOOP", "extra")]:
        r = c.cmd(*args)
        if s.dovecot:
            # DIFF: Dovecot ignores arguments it does not expect; the
            # grammar has none (RFC 3501 §9), and the bridge says BAD.
            s.ok(r, "Dovecot: %s" % " ".join(args))
        else:
            s.bad(r, " ".join(args))
    s.refused(c.cmd("CREATE", '"unterminated'), "an unterminated quoted string")
    # A literal too large for a command other than APPEND: refused at once.
    Conn.counter += 1
    c.send(b"lit CREATE {100000}\r\n")
    line = c.line()
    if s.dovecot:
        # DIFF: Dovecot hangs up; the bridge answers NO [TOOBIG].
        s.check(line.startswith("* BYE"), "Dovecot: CREATE {100000}: %r" % line)
        c.close()
        c = s.conn()
    else:
        s.check(line.startswith("lit NO [TOOBIG]"), "CREATE {100000}: %r" % line)
    s.ok(c.cmd("NOOP"), "the connection survives bad input")
    s.ok(c.cmd("noop"), "commands are case-insensitive")
    s.ok(c.cmd("select", "inbox"), "select inbox in lower case")
    s.ok(c.cmd("ENABLE", "BOGUS-EXTENSION"), "ENABLE of an unknown extension is OK, enabling nothing")
    r = c.cmd("LOGOUT")
    s.has(r, "^BYE", "LOGOUT says BYE")
    c.close()

def test_imaplib(s):
    """The same through Python's imaplib, as a real client library."""
    M = imaplib.IMAP4(s.a.host, s.a.port)
    count = 0

    def do(what, typ_data, want="OK"):
        nonlocal count
        count += 1
        typ, data = typ_data
        s.check(typ == want, "imaplib %s: %s %r" % (what, typ, data))
        return data

    do("login", M.login(s.a.user, s.a.password))
    do("create", M.create("lib"))
    do("append", M.append("lib", "(\\Flagged)", imaplib.Time2Internaldate(time.time()), SIMPLE.encode()))
    do("append", M.append("lib", None, None, MULTI.encode()))
    data = do("select", M.select("lib"))
    s.check(data == [b"2"], "imaplib select count: %r" % data)
    data = do("search", M.search(None, "FLAGGED"))
    s.check(data == [b"1"], "imaplib search: %r" % data)
    data = do("uid search", M.uid("SEARCH", "ALL"))
    s.check(data == [b"1 2"], "imaplib uid search: %r" % data)
    data = do("fetch", M.fetch("1", "(RFC822)"))
    s.check(isinstance(data[0], tuple) and data[0][1] == SIMPLE.encode(), "imaplib fetch RFC822: %r" % data[:1])
    data = do("fetch", M.fetch("1:2", "(FLAGS)"))
    s.check(len(data) == 2, "imaplib fetch flags: %r" % data)
    do("store", M.store("2", "+FLAGS", "(\\Deleted)"))
    do("copy", M.copy("1", "INBOX"))
    data = do("expunge", M.expunge())
    s.check(data == [b"2"], "imaplib expunge: %r" % data)
    do("status", M.status("lib", "(MESSAGES)"))
    do("noop", M.noop())
    do("close", M.close())
    data = do("list", M.list())
    s.check(any(b"lib" in d for d in data), "imaplib list: %r" % data)
    do("lsub", M.lsub())
    do("subscribe", M.subscribe("lib"))
    do("unsubscribe", M.unsubscribe("lib"))
    do("rename", M.rename("lib", "lib2"))
    do("delete", M.delete("lib2"))
    do("select missing", M.select("lib2"), want="NO")
    do("logout", M.logout(), want="BYE")
    Conn.counter += count
