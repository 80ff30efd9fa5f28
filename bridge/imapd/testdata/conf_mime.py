"""Conformance group: MIME structure (RFC 3501 §6.4.5, §7.4.2) of an
attached message, and envelopes of unusual headers."""

from conflib import append

ATTACHED = (
    "From: outer@a.test\r\n"
    "To: alice@a.test\r\n"
    "Subject: forwarded\r\n"
    "Date: Wed, 13 Mar 2024 10:00:00 +0000\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "--outer\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "see below\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: inner@b.test\r\n"
    "Subject: inner subject\r\n"
    "\r\n"
    "inner body\r\n"
    "--outer--\r\n"
)

ODD = (
    "From: undisclosed-recipients:;\r\n"
    "To: Group: a@a.test, b@b.test;\r\n"
    "Subject: \r\n"
    "\r\n"
    "no date, empty subject\r\n"
)


def test_mime(s):
    c = s.conn()
    s.ok(c.cmd("CREATE", "mime"), "CREATE mime")
    append(s, c, "mime", ATTACHED)
    append(s, c, "mime", ODD)
    s.ok(c.cmd("EXAMINE", "mime"), "EXAMINE mime")
    r = c.cmd("FETCH", "1", "BODYSTRUCTURE")
    s.ok(r, "BODYSTRUCTURE of an attached message")
    s.has(r, r'\("message" "rfc822" NIL NIL NIL "7bit" \d+ \(NIL "inner subject" \(\(NIL NIL "inner" "b\.test"\)\)',
          "message/rfc822 part with its envelope")
    # The inner body ends before the CRLF that belongs to the boundary
    # (RFC 2046 §5.1.1): 10 octets, 0 lines.
    s.has(r, r'"inner subject".*\("text" "plain" \("charset" "us-ascii"\) NIL NIL "7bit" 10 0', "the inner body's structure")
    r = c.cmd("FETCH", "1", "BODY.PEEK[2.HEADER]")
    s.check(r.literals == [b"From: inner@b.test\r\nSubject: inner subject\r\n\r\n"], "BODY[2.HEADER]: %r" % r.literals)
    r = c.cmd("FETCH", "1", "BODY.PEEK[2.TEXT]")
    s.check(r.literals == [b"inner body"], "BODY[2.TEXT]: %r" % r.literals)
    r = c.cmd("FETCH", "1", "BODY.PEEK[2.1]")
    s.check(r.literals == [b"inner body"], "BODY[2.1], the inner message's only part: %r" % r.literals)
    r = c.cmd("FETCH", "1", "BODY.PEEK[2.HEADER.FIELDS (SUBJECT)]")
    s.check(r.literals == [b"Subject: inner subject\r\n\r\n"], "BODY[2.HEADER.FIELDS]: %r" % r.literals)
    r = c.cmd("FETCH", "1", "BODY.PEEK[3]")
    s.ok(r, "BODY[3] of a message with two parts")
    s.check(r.literals == [b""] or r.find(r'BODY\[3\] (""|NIL)') is not None, "a missing part is empty: %r" % r)
    r = c.cmd("FETCH", "2", "ENVELOPE")
    s.ok(r, "ENVELOPE of odd headers")
    s.has(r, r'ENVELOPE \(NIL (""|NIL) ', "no Date is NIL; an empty Subject is empty or NIL")
    s.has(r, r'\(\(NIL NIL "Group" NIL\)\(NIL NIL "a" "a\.test"\)\(NIL NIL "b" "b\.test"\)\(NIL NIL NIL NIL\)\)',
          "group syntax in To (RFC 3501 §7.4.2)")
    c.cmd("LOGOUT")
    c.close()
