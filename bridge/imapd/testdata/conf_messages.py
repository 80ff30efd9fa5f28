"""Conformance groups: APPEND, SELECT/EXAMINE/CLOSE and FETCH of every item."""

import imaplib
import re

from conflib import COMMENTED, MULTI, SIMPLE, append, q
from imapwire import Conn, Literal

def test_append(s):
    c = s.conn()
    s.ok(c.cmd("CREATE", "app"), "CREATE app")
    uid1 = append(s, c, "app", SIMPLE)
    uid2 = append(s, c, "app", MULTI, "(\\Seen $Label1)", q("11-Mar-2024 08:30:00 +0100"), what="APPEND with flags and date")
    s.check(uid2 > uid1, "APPENDUIDs increase: %d %d" % (uid1, uid2))
    uid3 = append(s, c, "app", COMMENTED, "(\\Flagged)", what="APPEND with flags")
    r = c.cmd("APPEND", "app", q("01-Jan-2020 00:00:00 +0000"), Literal(SIMPLE.replace("Hello there", "Dated"), sync=False))
    s.ok(r, "APPEND with a date and a non-synchronizing literal")
    s.check(not r.cont, "no continuation for a non-synchronizing literal: %r" % r.cont)
    r = c.cmd("APPEND", "app-nothing", Literal(SIMPLE))
    s.no(r, "APPEND to a missing mailbox")
    s.check(r.code() == "TRYCREATE", "APPEND to a missing mailbox says TRYCREATE: %r" % r)
    s.refused(c.cmd("APPEND", "app", Literal("")), "APPEND of an empty message")
    s.refused(c.cmd("APPEND", "app", "(\\Bogus)", Literal(SIMPLE)), "APPEND with an unknown system flag")
    s.refused(c.cmd("APPEND", "app", q("32-Foo-2024 00:00:00 +0000"), Literal(SIMPLE)), "APPEND with a bad date")
    s.refused(c.cmd("APPEND", "app"), "APPEND without a message")
    # An APPEND over APPENDLIMIT (RFC 7889) is refused without a "+".
    b = s.conn()
    Conn.counter += 1
    b.send(b"huge APPEND app {4294967296}\r\n")
    line = b.line()
    if s.dovecot:
        # DIFF: Dovecot advertises no APPENDLIMIT and asks for the bytes.
        s.check(line.startswith("+"), "Dovecot: APPEND {4294967296}: %r" % line)
    else:
        s.check(line.startswith("huge NO [TOOBIG]"), "APPEND {4294967296}: %r" % line)
    b.close()

    r = c.cmd("STATUS", "app", "(MESSAGES UNSEEN)")
    s.has(r, r"MESSAGES 4", "STATUS counts the APPENDs")
    s.has(r, r"UNSEEN 3", "STATUS UNSEEN after APPEND with \\Seen")
    # APPEND stores exactly the client's bytes (RFC 3501 §6.3.11).
    s.ok(c.cmd("EXAMINE", "app"), "EXAMINE app")
    for uid, msg in [(uid1, SIMPLE), (uid2, MULTI), (uid3, COMMENTED)]:
        r = c.cmd("UID", "FETCH", str(uid), "(RFC822.SIZE BODY.PEEK[])")
        s.ok(r, "FETCH the appended message")
        s.has(r, r"RFC822\.SIZE %d\b" % len(msg), "RFC822.SIZE is what was appended (uid %d)" % uid)
        s.check(msg.encode() in r.literals, "BODY[] is what was appended (uid %d): %r" % (uid, r.literals[:1]))
    r = c.cmd("UID", "FETCH", str(uid2), "(FLAGS INTERNALDATE)")
    # DIFF: Dovecot keeps the zone APPEND gave, the bridge answers in UTC:
    # RFC 3501 §2.3.3 asks for the instant, and both give the same one.
    m = r.find(r'INTERNALDATE "([^"]*)"')
    s.check(m is not None and imaplib.Internaldate2tuple(('INTERNALDATE "%s"' % m.group(1)).encode()) ==
            imaplib.Internaldate2tuple(b'INTERNALDATE "11-Mar-2024 08:30:00 +0100"'), "INTERNALDATE from APPEND: %r" % r)
    s.has(r, r"FLAGS \([^)]*\\Seen", "flags from APPEND")
    s.has(r, r"FLAGS \([^)]*\$Label1", "keyword from APPEND")
    # NUL octets travel in a literal8 only (RFC 3516 §4.2; RFC 3501 §9
    # CHAR8 excludes NUL).
    nul = "Subject: nul\r\nContent-Type: application/octet-stream\r\n\r\na\0b\0c\r\n"
    r = c.cmd("APPEND", "app", Literal(nul, binary=True))
    s.ok(r, "APPEND with literal8 holding NUL")
    r = c.cmd("SELECT", "app")
    r = c.cmd("FETCH", "*", "(BODY.PEEK[])")
    s.ok(r, "FETCH BODY[] of a message with NUL")
    s.check(all(b"\0" not in lit for lit in r.literals), "no NUL in a plain literal: %r" % r.literals)
    # Both servers put 0x80 in place of each NUL, keeping the length.
    s.check(nul.replace("\0", "\x80").encode("latin-1") in r.literals, "NUL shown as 0x80: %r" % r.literals)
    r = c.cmd("FETCH", "*", "(BINARY.PEEK[1])")
    s.ok(r, "FETCH BINARY[1] of a message with NUL")
    s.has(r, r"BINARY\[1\] ~\{", "BINARY[] with NUL is a literal8")
    s.check(any(b"a\0b\0c" in lit for lit in r.literals), "BINARY[] has the NULs: %r" % r.literals)
    c.cmd("LOGOUT")
    c.close()

def test_select(s):
    c = s.conn()
    s.ok(c.cmd("CREATE", "sel"), "CREATE sel")
    for i in range(3):
        append(s, c, "sel", SIMPLE.replace("Hello there", "sel %d" % i))
    r = c.cmd("SELECT", "sel")
    s.ok(r, "SELECT")
    s.check(r.code() == "READ-WRITE", "SELECT is [READ-WRITE]: %r" % r)
    s.has(r, r"^3 EXISTS$", "SELECT EXISTS")
    s.has(r, r"^3 RECENT$", "first SELECT after APPEND: RECENT 3")
    s.has(r, r"^FLAGS \(.*\\Seen.*\)", "SELECT FLAGS")
    s.has(r, r"^OK \[PERMANENTFLAGS \(.*\\\*\)\]", "PERMANENTFLAGS with \\*")
    s.has(r, r"^OK \[UIDVALIDITY [1-9]\d*\]", "UIDVALIDITY")
    s.has(r, r"^OK \[UIDNEXT 4\]", "UIDNEXT")
    s.has(r, r"^OK \[UNSEEN 1\]", "UNSEEN")
    r = c.cmd("FETCH", "1:*", "FLAGS")
    s.check(len(r.all(r"\\Recent")) == 3, "messages are \\Recent to the first session: %r" % r)
    r = c.cmd("SEARCH", "RECENT")
    s.has(r, r"^SEARCH 1 2 3$", "SEARCH RECENT")
    r = c.cmd("SEARCH", "NEW")
    s.has(r, r"^SEARCH 1 2 3$", "SEARCH NEW")
    d = s.conn()
    r = d.cmd("SELECT", "sel")
    s.has(r, r"^0 RECENT$", "second session: RECENT 0")
    r = d.cmd("FETCH", "1", "FLAGS")
    s.hasnt(r, r"\\Recent", "not \\Recent to the second session")
    r = d.cmd("SEARCH", "OLD")
    s.has(r, r"^SEARCH 1 2 3$", "SEARCH OLD")
    # STORE cannot set \Recent.
    d.cmd("STORE", "1", "+FLAGS", "(\\Recent)")
    r = d.cmd("FETCH", "1", "FLAGS")
    s.hasnt(r, r"\\Recent", "\\Recent cannot be stored")
    d.cmd("LOGOUT")
    d.close()

    s.no(c.cmd("SELECT", "sel-nothing"), "SELECT of a missing mailbox")
    s.refused(c.cmd("FETCH", "1", "FLAGS"), "FETCH after a failed SELECT (no mailbox selected)")
    r = c.cmd("EXAMINE", "sel")
    s.ok(r, "EXAMINE")
    s.check(r.code() == "READ-ONLY", "EXAMINE is [READ-ONLY]: %r" % r)
    r = c.cmd("STORE", "1", "+FLAGS", "(\\Deleted)")
    if s.dovecot:
        # DIFF: Dovecot answers OK "Store ignored with read-only mailbox";
        # the bridge NO (RFC 3501 §6.4.6: "NO - store error"). Neither
        # changes anything (checked below).
        s.ok(r, "Dovecot: STORE under EXAMINE")
    else:
        s.no(r, "STORE under EXAMINE")
    s.hasnt(c.cmd("FETCH", "1", "FLAGS"), r"\\Deleted", "STORE under EXAMINE changed nothing")
    c.cmd("FETCH", "1", "BODY[]")
    r = c.cmd("FETCH", "1", "FLAGS")
    s.hasnt(r, r"\\Seen", "FETCH BODY[] under EXAMINE does not set \\Seen")
    # CLOSE after EXAMINE: OK, nothing expunged, no mailbox selected (RFC
    # 3501 §6.4.2).
    s.ok(c.cmd("CLOSE"), "CLOSE after EXAMINE")
    s.refused(c.cmd("FETCH", "1", "FLAGS"), "FETCH after CLOSE")
    s.refused(c.cmd("CLOSE"), "CLOSE with no mailbox selected")
    s.ok(c.cmd("SELECT", "sel"), "SELECT again")
    s.ok(c.cmd("STORE", "1", "+FLAGS.SILENT", "(\\Deleted)"), "STORE \\Deleted")
    s.ok(c.cmd("UNSELECT"), "UNSELECT")
    r = c.cmd("STATUS", "sel", "(MESSAGES)")
    s.has(r, r"MESSAGES 3", "UNSELECT does not expunge")
    s.ok(c.cmd("SELECT", "sel"), "SELECT once more")
    r = c.cmd("CLOSE")
    s.ok(r, "CLOSE")
    s.hasnt(r, r"EXPUNGE", "CLOSE sends no EXPUNGE")
    r = c.cmd("STATUS", "sel", "(MESSAGES)")
    s.has(r, r"MESSAGES 2", "CLOSE expunged the \\Deleted message")
    s.ok(c.cmd("SELECT", "INBOX"), "SELECT INBOX")
    s.ok(c.cmd("SELECT", "sel"), "SELECT while selected (implicit unselect)")
    s.ok(c.cmd("NOOP"), "NOOP selected")
    s.ok(c.cmd("CHECK"), "CHECK")
    c.cmd("LOGOUT")
    c.close()

def test_fetch(s):
    c = s.conn()
    s.ok(c.cmd("CREATE", "fet"), "CREATE fet")
    append(s, c, "fet", SIMPLE, "()", q("10-Mar-2024 12:00:00 +0000"))
    append(s, c, "fet", MULTI)
    s.ok(c.cmd("SELECT", "fet"), "SELECT fet")

    r = c.cmd("FETCH", "1", "(UID FLAGS INTERNALDATE RFC822.SIZE)")
    s.ok(r, "FETCH UID FLAGS INTERNALDATE RFC822.SIZE")
    s.has(r, r"^1 FETCH \(.*UID 1\b", "UID")
    s.has(r, r'INTERNALDATE "10-Mar-2024 12:00:00 \+0000"', "INTERNALDATE")
    s.has(r, r"RFC822\.SIZE %d\b" % len(SIMPLE), "RFC822.SIZE")
    r = c.cmd("FETCH", "1", "ENVELOPE")
    s.ok(r, "FETCH ENVELOPE")
    s.has(r, r'ENVELOPE \("Sun, 10 Mar 2024 12:00:00 \+0000" "Hello there" \(\("Bob Builder" NIL "bob" "b\.test"\)\)',
          "ENVELOPE date, subject, from")
    s.has(r, r'\(\("Alice" NIL "alice" "a\.test"\)\) \(\(NIL NIL "carol" "c\.test"\)\) NIL NIL "<simple@b\.test>"\)',
          "ENVELOPE to, cc, bcc, in-reply-to, message-id")
    r = c.cmd("FETCH", "1", "BODYSTRUCTURE")
    s.ok(r, "FETCH BODYSTRUCTURE")
    s.has(r, r'BODYSTRUCTURE \("text" "plain" \("charset" "utf-8"\) NIL NIL "7bit" \d+ 2', "text/plain BODYSTRUCTURE")
    r = c.cmd("FETCH", "2", "BODYSTRUCTURE")
    s.has(r, r'BODYSTRUCTURE \(\("text" "plain" .*\)\("application" "octet-stream" NIL NIL NIL "base64" \d+.*\) "mixed"',
          "multipart BODYSTRUCTURE")
    r = c.cmd("FETCH", "2", "BODY")
    s.ok(r, "FETCH BODY")
    s.has(r, r'BODY \(\("text" "plain" .*\) "mixed"\)', "non-extensible BODY")
    r = c.cmd("FETCH", "1", "BODY.PEEK[]")
    s.check(SIMPLE.encode() in r.literals, "BODY.PEEK[]: %r" % r)
    r = c.cmd("FETCH", "1", "FLAGS")
    s.hasnt(r, r"\\Seen", "BODY.PEEK[] does not set \\Seen")
    header, _, text = SIMPLE.partition("\r\n\r\n")
    r = c.cmd("FETCH", "1", "BODY.PEEK[HEADER]")
    s.check((header + "\r\n\r\n").encode() in r.literals, "BODY[HEADER] ends with the blank line: %r" % r.literals)
    r = c.cmd("FETCH", "1", "BODY.PEEK[TEXT]")
    s.check(text.encode() in r.literals, "BODY[TEXT]: %r" % r.literals)
    r = c.cmd("FETCH", "1", "BODY.PEEK[HEADER.FIELDS (Subject FROM)]")
    s.check(any(re.match(rb"^From: Bob Builder <bob@b.test>\r\nSubject: Hello there\r\n\r\n$", lit) or
                re.match(rb"^Subject: Hello there\r\nFrom: Bob Builder <bob@b.test>\r\n\r\n$", lit)
                for lit in r.literals), "BODY[HEADER.FIELDS]: %r" % r.literals)
    r = c.cmd("FETCH", "1", "BODY.PEEK[HEADER.FIELDS.NOT (Subject From To Cc Date Message-ID)]")
    s.check(r.literals == [b"Content-Type: text/plain; charset=utf-8\r\n\r\n"], "BODY[HEADER.FIELDS.NOT]: %r" % r.literals)
    r = c.cmd("FETCH", "1", "BODY.PEEK[1]")
    s.check(text.encode() in r.literals, "BODY[1] of a single part: %r" % r.literals)
    r = c.cmd("FETCH", "2", "BODY.PEEK[1]")
    s.check(r.literals == [b"first part text"], "BODY[1] of a multipart: %r" % r.literals)
    r = c.cmd("FETCH", "2", "BODY.PEEK[2]")
    s.check(r.literals == [b"AAECAwQFBgc="], "BODY[2] stays encoded: %r" % r.literals)
    r = c.cmd("FETCH", "2", "BODY.PEEK[1.MIME]")
    s.check(r.literals == [b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"], "BODY[1.MIME]: %r" % r.literals)
    r = c.cmd("FETCH", "1", "BODY.PEEK[]<0.10>")
    s.has(r, r"BODY\[\]<0> \{10\}", "partial response names its origin")
    s.check(r.literals == [SIMPLE[:10].encode()], "BODY[]<0.10>: %r" % r.literals)
    r = c.cmd("FETCH", "1", "BODY.PEEK[]<6.5>")
    s.check(r.literals == [SIMPLE[6:11].encode()], "BODY[]<6.5>: %r" % r.literals)
    r = c.cmd("FETCH", "1", "BODY.PEEK[]<100000.10>")
    s.ok(r, "BODY[] past the end")
    s.check(r.find(r'BODY\[\]<100000> (""|\{0\})') is not None, "past the end is empty: %r" % r)
    r = c.cmd("FETCH", "2", "(BINARY.PEEK[2] BINARY.SIZE[2])")
    s.ok(r, "FETCH BINARY[2] BINARY.SIZE[2]")
    s.check(bytes(range(8)) in r.literals, "BINARY[2] is decoded: %r" % r.literals)
    s.has(r, r"BINARY\.SIZE\[2\] 8", "BINARY.SIZE[2]")
    r = c.cmd("FETCH", "1", "RFC822.HEADER")
    s.check((header + "\r\n\r\n").encode() in r.literals, "RFC822.HEADER: %r" % r.literals)
    r = c.cmd("FETCH", "1", "RFC822.TEXT")
    s.check(text.encode() in r.literals, "RFC822.TEXT")
    r = c.cmd("FETCH", "1", "FLAGS")
    s.has(r, r"\\Seen", "RFC822.TEXT sets \\Seen")
    r = c.cmd("FETCH", "2", "RFC822")
    s.check(MULTI.encode() in r.literals, "RFC822")
    r = c.cmd("FETCH", "2", "FLAGS")
    s.has(r, r"\\Seen", "RFC822 sets \\Seen")
    c.cmd("STORE", "1:2", "-FLAGS.SILENT", "(\\Seen)")
    r = c.cmd("FETCH", "1", "BODY[TEXT]")
    s.has(r, r"\\Seen", "BODY[TEXT] sets \\Seen and reports FLAGS")
    for macro, items in [("FAST", ["FLAGS", "INTERNALDATE", "RFC822.SIZE"]),
                         ("ALL", ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"]),
                         ("FULL", ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"])]:
        r = c.cmd("FETCH", "2", macro)
        s.ok(r, "FETCH " + macro)
        for item in items:
            s.has(r, r"[( ]" + re.escape(item) + r" ", "FETCH %s has %s" % (macro, item))
    r = c.cmd("FETCH", "1:*", "UID")
    s.check(len(r.all(r"FETCH \(UID \d+\)")) == 2, "FETCH 1:*: %r" % r)
    r = c.cmd("FETCH", "*", "UID")
    s.has(r, r"^2 FETCH \(UID 2\)", "FETCH *")
    r = c.cmd("FETCH", "2:1", "UID")
    s.check(len(r.untagged) == 2, "FETCH 2:1 (either order): %r" % r)
    r = c.cmd("UID", "FETCH", "2", "FLAGS")
    s.has(r, r"^2 FETCH \(.*UID 2", "UID FETCH includes UID")
    r = c.cmd("UID", "FETCH", "1:*", "(FLAGS)")
    s.check(len(r.untagged) == 2, "UID FETCH 1:*: %r" % r)
    r = c.cmd("UID", "FETCH", "100:200", "FLAGS")
    s.ok(r, "UID FETCH of missing UIDs")
    s.check(not r.untagged, "UID FETCH of missing UIDs answers nothing: %r" % r)
    r = c.cmd("UID", "FETCH", "100:*", "UID")
    s.has(r, r"^2 FETCH \(UID 2\)", "UID FETCH 100:* is the last message (RFC 3501 §6.4.8)")
    s.bad(c.cmd("FETCH", "1", "(BOGUS)"), "FETCH of an unknown item")
    s.bad(c.cmd("FETCH", "1", "BODY[NOTASECTION]"), "FETCH of an unknown section")
    s.bad(c.cmd("FETCH", "x", "FLAGS"), "FETCH with a bad sequence set")
    s.bad(c.cmd("FETCH", "1"), "FETCH without items")
    s.bad(c.cmd("FETCH", "1", "(FLAGS"), "FETCH with an unbalanced list")
    r = c.cmd("FETCH", "0", "FLAGS")
    s.bad(r, "FETCH 0 (sequence numbers start at 1)")
    r = c.cmd("FETCH", "5", "FLAGS")
    if s.dovecot:
        # DIFF: a sequence number past EXISTS: Dovecot answers BAD (RFC 9051
        # §6.4.5 asks for it); the bridge's imapserver answers OK with
        # nothing, as RFC 3501 left it open.
        s.bad(r, "Dovecot: FETCH past the end")
    else:
        s.check(r.status in ("OK", "BAD", "NO") and not r.untagged, "FETCH past the end: %r" % r)
    c.cmd("LOGOUT")
    c.close()
