"""Conformance group: edge cases of names, sizes and message attributes
that both servers must agree on."""

import re

from conflib import MULTI, SIMPLE, append, names
from imapwire import Literal


def test_edges(s):
    c = s.conn()
    # Modified UTF-7 names (RFC 3501 §5.1.3) round-trip.
    s.ok(c.cmd("CREATE", "edge-&AOQ-rger"), "CREATE with modified UTF-7")
    r = c.cmd("LIST", '""', '"edge-*"')
    s.check("edge-&AOQ-rger" in names(r), "LIST gives the modified UTF-7 name back: %r" % r)
    s.ok(c.cmd("STATUS", "edge-&AOQ-rger", "(MESSAGES)"), "STATUS of a modified UTF-7 name")
    s.ok(c.cmd("DELETE", "edge-&AOQ-rger"), "DELETE of a modified UTF-7 name")

    # A large message through a synchronizing literal, byte for byte.
    big = SIMPLE + "".join("line %06d of a long body, padded to make it longer than a buffer\r\n" % i for i in range(3000))
    s.ok(c.cmd("CREATE", "edge"), "CREATE edge")
    append(s, c, "edge", big, what="APPEND of 200 KB")
    append(s, c, "edge", MULTI, "(\\Answered $Kw)", '"05-Feb-2021 10:11:12 +0000"', what="APPEND with flags and date for COPY")
    s.ok(c.cmd("SELECT", "edge"), "SELECT edge")
    r = c.cmd("FETCH", "1", "(RFC822.SIZE BODY.PEEK[])")
    s.has(r, r"RFC822\.SIZE %d\b" % len(big), "RFC822.SIZE of 200 KB")
    s.check(big.encode() in r.literals, "200 KB back byte for byte")
    r = c.cmd("FETCH", "1", "BODY.PEEK[HEADER.FIELDS (X-Absent)]")
    s.check(r.literals == [b"\r\n"], "HEADER.FIELDS of an absent field is the blank line: %r" % r.literals)
    r = c.cmd("FETCH", "1", "BODY.PEEK[]<%d.100>" % (len(big) - 10))
    s.check(r.literals == [big[-10:].encode()], "partial at the end is cut short: %r" % r.literals)

    # COPY keeps flags and the internal date (RFC 3501 §6.4.7).
    s.ok(c.cmd("CREATE", "edge-copy"), "CREATE edge-copy")
    s.ok(c.cmd("COPY", "2", "edge-copy"), "COPY")
    s.ok(c.cmd("EXAMINE", "edge-copy"), "EXAMINE edge-copy")
    r = c.cmd("FETCH", "1", "(FLAGS INTERNALDATE)")
    s.has(r, r"FLAGS \((?=[^)]*\\Answered)(?=[^)]*\$Kw)", "COPY keeps flags")
    m = r.find(r'INTERNALDATE "([^"]*)"')
    # date-day-fixed is " 5" or "05" (RFC 3501 §9).
    s.check(m is not None and re.match(r"[ 0]5-Feb-2021 10:11:12 \+0000", m.group(1)) is not None,
            "COPY keeps the internal date: %r" % r)
    r = c.cmd("UID", "SEARCH", "UID", "*:1")
    s.has(r, r"^SEARCH 1$", "UID *:1 in either order")
    # STATUS of the selected mailbox is allowed (RFC 3501 §6.3.10 SHOULD NOT, but must work).
    r = c.cmd("STATUS", "edge-copy", "(MESSAGES)")
    s.has(r, r"MESSAGES 1", "STATUS of the selected mailbox")

    # RENAME INBOX moves its messages to the new name and leaves INBOX
    # empty (RFC 3501 §6.3.5).
    s.ok(c.cmd("UNSELECT"), "UNSELECT")
    append(s, c, "INBOX", SIMPLE, what="APPEND to INBOX")
    r = c.cmd("STATUS", "INBOX", "(MESSAGES)")
    m = r.find(r"MESSAGES (\d+)")
    before = int(m.group(1)) if m else -1
    r = c.cmd("RENAME", "INBOX", "edge-old-inbox")
    if s.dovecot:
        # DIFF: RFC 3501 §6.3.5 defines RENAME INBOX; Dovecot refuses it
        # with this mailbox layout ("NO [CANNOT] Renaming INBOX isn't
        # supported"); the bridge does it.
        s.no(r, "Dovecot: RENAME INBOX")
        s.check(r.code() == "CANNOT", "Dovecot: RENAME INBOX says CANNOT: %r" % r)
    else:
        s.ok(r, "RENAME INBOX")
        s.has(c.cmd("STATUS", "INBOX", "(MESSAGES)"), r"MESSAGES 0", "INBOX empty after RENAME")
        s.has(c.cmd("STATUS", "edge-old-inbox", "(MESSAGES)"), r"MESSAGES %d" % before, "messages moved by RENAME INBOX")
    s.ok(c.cmd("SELECT", "INBOX"), "INBOX still selectable")
    r = c.cmd("APPEND", "edge", Literal(SIMPLE, sync=False))
    s.ok(r, "APPEND with a small non-synchronizing literal (LITERAL+ and LITERAL- both allow it)")
    c.cmd("LOGOUT")
    c.close()


def test_state(s):
    """UIDVALIDITY and UIDNEXT over a mailbox's life, and what another
    session's changes look like."""
    c = s.conn()
    s.ok(c.cmd("CREATE", "life"), "CREATE life")
    r = c.cmd("STATUS", "life", "(UIDVALIDITY UIDNEXT)")
    m = r.find(r"UIDVALIDITY (\d+)")
    first = m.group(1) if m else None
    s.has(r, r"UIDNEXT 1\b", "a new mailbox starts at UIDNEXT 1")
    append(s, c, "life", SIMPLE)
    append(s, c, "life", SIMPLE)
    s.has(c.cmd("STATUS", "life", "(UIDNEXT MESSAGES)"), r"UIDNEXT 3\b", "UIDNEXT after two APPENDs")
    s.ok(c.cmd("SELECT", "life"), "SELECT life")
    c.cmd("STORE", "1:2", "+FLAGS.SILENT", "(\\Deleted)")
    r = c.cmd("EXPUNGE")
    # DIFF: the bridge reports "1 EXPUNGE" twice, Dovecot "2" then "1":
    # both renumber correctly (RFC 3501 §7.4.1).
    s.check(len(r.all(r"^\d EXPUNGE$")) == 2, "two expunges: %r" % r)
    r = c.cmd("APPEND", "life", Literal(SIMPLE))
    s.ok(r, "APPEND to the selected mailbox")
    s.check(r.find(r"^1 EXISTS$") is not None or c.cmd("NOOP").find(r"^1 EXISTS$") is not None,
            "own APPEND shows as EXISTS: %r" % r)
    r = c.cmd("FETCH", "1", "UID")
    s.has(r, r"UID 3\b", "UIDs are not reused after EXPUNGE (RFC 3501 §2.3.1.1)")
    s.ok(c.cmd("UNSELECT"), "UNSELECT life")
    # A mailbox deleted and created again gets a new UIDVALIDITY.
    s.ok(c.cmd("DELETE", "life"), "DELETE life")
    s.ok(c.cmd("CREATE", "life"), "CREATE life again")
    r = c.cmd("STATUS", "life", "(UIDVALIDITY UIDNEXT)")
    m = r.find(r"UIDVALIDITY (\d+)")
    s.check(m is not None and first is not None and m.group(1) != first,
            "a new mailbox of an old name has a new UIDVALIDITY: %s then %r" % (first, r))

    # Another session's APPEND and flag change reach a selected session.
    s.ok(c.cmd("SELECT", "life"), "SELECT the new life")
    d = s.conn()
    append(s, d, "life", SIMPLE, "(\\Seen)")
    r = c.cmd("NOOP")
    s.has(r, r"^1 EXISTS$", "another session's APPEND reaches NOOP")
    s.has(r, r"^1 RECENT$", "and is \\Recent here")
    d.cmd("SELECT", "life")
    d.cmd("STORE", "1", "-FLAGS.SILENT", "(\\Seen)")
    r = c.cmd("NOOP")
    s.has(r, r"^1 FETCH \((?![^)]*\\Seen)", "another session's -FLAGS reaches NOOP")
    d.cmd("STORE", "1", "+FLAGS.SILENT", "(\\Deleted)")
    s.ok(d.cmd("COPY", "1", "Trash"), "COPY of a \\Deleted message")
    s.ok(d.cmd("EXAMINE", "Trash"), "EXAMINE Trash")
    r = d.cmd("FETCH", "*", "FLAGS")
    s.has(r, r"\\Deleted", "COPY keeps \\Deleted")
    s.ok(d.cmd("SELECT", "life"), "SELECT life in the other session")
    r = d.cmd("UID", "EXPUNGE", "1:*")
    s.has(r, r"^1 EXPUNGE$", "UID EXPUNGE 1:*")
    # No EXPUNGE during FETCH (RFC 3501 §7.4.1): the message is still
    # there for this session until a command that may report it.
    r = c.cmd("FETCH", "1:*", "UID")
    s.ok(r, "FETCH of a message another session expunged")
    s.hasnt(r, "EXPUNGE", "no EXPUNGE during FETCH")
    r = c.cmd("NOOP")
    s.has(r, r"^1 EXPUNGE$", "the expunge reaches NOOP")
    r = c.cmd("STATUS", "life", "(MESSAGES)")
    s.has(r, r"MESSAGES 0", "nothing left")
    d.cmd("LOGOUT")
    d.close()
    c.cmd("LOGOUT")
    c.close()
