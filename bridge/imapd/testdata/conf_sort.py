"""Conformance group: SORT and THREAD (RFC 5256) with SORT=DISPLAY (RFC
5957), and ESEARCH's RETURN options (RFC 4731), which both servers
advertise. One mailbox of eight messages is sorted by every key and
threaded by both algorithms, and the exact orders and trees are
asserted: base subjects (RFC 2047 words, Re:/Fwd:, [blob], (fwd)), sent
dates across zones and a message without Date, first addresses' local
parts and display names, and threads by References, In-Reply-To and a
missing parent."""

import re

from conflib import append, caps, numset

# (internal date, header) of each message, in mailbox order.
MESSAGES = [
    ("10-Mar-2024 12:00:00 +0000",
     "From: Zed <adam@x.test>\r\nTo: bob@y.test\r\nSubject: Re: Apples\r\n"
     "Date: Sun, 3 Mar 2024 10:00:00 +0000\r\nMessage-ID: <a2@x.test>\r\nIn-Reply-To: <a1@x.test>\r\n"),
    ("09-Mar-2024 12:00:00 +0000",
     "From: Amy <zoe@x.test>\r\nTo: Carl <al@y.test>\r\nCc: dan@z.test\r\nSubject: Apples\r\n"
     "Date: Fri, 1 Mar 2024 10:00:00 +0000\r\nMessage-ID: <a1@x.test>\r\n"),
    ("08-Mar-2024 12:00:00 +0000",
     "From: mike@x.test\r\nTo: ann@y.test\r\nSubject: [list] Bananas (fwd)\r\n"
     "Date: Sat, 2 Mar 2024 10:00:00 +0000\r\nMessage-ID: <b1@x.test>\r\n"),
    ("08-Mar-2024 12:00:00 +0000",
     "From: Bea <bea@x.test>\r\nTo: Zack <zack@y.test>\r\nSubject: =?utf-8?q?Re=3A_Cherries?=\r\n"
     "Date: Mon, 4 Mar 2024 10:00:00 +0000\r\nMessage-ID: <c1@x.test>\r\nReferences: <missing@x.test>\r\n"),
    ("11-Mar-2024 12:00:00 +0000",
     "From: Carl <carl@x.test>\r\nSubject: Fwd: Cherries\r\n"
     "Date: Tue, 5 Mar 2024 10:00:00 +0000\r\nMessage-ID: <c2@x.test>\r\nReferences: <missing@x.test>\r\n"),
    ("12-Mar-2024 12:00:00 +0000",
     "From: Xavier <nina@x.test>\r\nTo: eve@y.test\r\nSubject: Re: Re: apples\r\n"
     "Date: Wed, 6 Mar 2024 10:00:00 +0000\r\nMessage-ID: <a3@x.test>\r\nReferences: <a1@x.test> <a2@x.test>\r\n"),
    ("07-Mar-2024 12:00:00 +0000",
     "From: ola@x.test\r\nTo: kim@y.test\r\nSubject: Dates\r\nMessage-ID: <d1@x.test>\r\n"),
    ("13-Mar-2024 12:00:00 +0000",
     "From: Bob <bob@x.test>\r\nTo: Al <ben@y.test>\r\nSubject: Bananas\r\n"
     "Date: Fri, 1 Mar 2024 05:00:00 -0800\r\nMessage-ID: <b2@x.test>\r\n"),
]


def sort_nums(r):
    m = r.find(r"^SORT((?: \d+)*)$")
    return [int(n) for n in m.group(1).split()] if m else None


def thread_text(r):
    m = r.find(r"^THREAD ?(.*)$")
    return m.group(1) if m else None


def test_sort_thread(s):
    c = s.conn()
    cs = caps(c.cmd("CAPABILITY"))
    for cap in ["SORT", "SORT=DISPLAY", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES", "ESEARCH"]:
        s.check(cap in cs, "%s advertised: %s" % (cap, sorted(cs)))
    s.ok(c.cmd("CREATE", "sorted"), "CREATE sorted")
    uids, sizes = [], []
    for i, (date, header) in enumerate(MESSAGES):
        msg = header + "\r\n" + "body %d\r\n" % i + "x" * (i * 37 % 101) + "\r\n"
        uids.append(append(s, c, "sorted", msg, '"%s"' % date))
        sizes.append(len(msg))
    s.ok(c.cmd("SELECT", "sorted"), "SELECT sorted")

    for keys, want in [
        ("(SUBJECT)", [1, 2, 6, 3, 8, 4, 5, 7]),
        ("(DATE)", [2, 8, 3, 1, 4, 5, 6, 7]),
        ("(ARRIVAL)", [7, 3, 4, 2, 1, 5, 6, 8]),
        ("(FROM)", [1, 4, 8, 5, 3, 6, 7, 2]),
        ("(TO)", [5, 2, 3, 8, 1, 6, 7, 4]),
        ("(CC)", [1, 3, 4, 5, 6, 7, 8, 2]),
        ("(DISPLAYFROM)", [2, 4, 8, 5, 3, 7, 6, 1]),
        ("(DISPLAYTO)", [5, 8, 3, 1, 2, 6, 7, 4]),
        ("(REVERSE SIZE)", sorted(range(1, 9), key=lambda n: (-sizes[n - 1], n))),
        ("(SUBJECT REVERSE DATE)", [6, 1, 2, 3, 8, 5, 4, 7]),
        ("(REVERSE ARRIVAL)", [8, 6, 5, 1, 2, 3, 4, 7]),
    ]:
        r = c.cmd("SORT", keys, "UTF-8", "ALL")
        s.ok(r, "SORT %s" % keys)
        s.check(sort_nums(r) == want, "SORT %s: want %s, got %r" % (keys, want, r))
    r = c.cmd("UID", "SORT", "(DATE)", "US-ASCII", "SUBJECT", "apples")
    s.check(sort_nums(r) == [uids[1], uids[0], uids[5]], "UID SORT (DATE) SUBJECT apples: %r" % r)
    r = c.cmd("SORT", "(SUBJECT)", "UTF-8", "SUBJECT", "nothing-like-this")
    s.ok(r, "SORT matching nothing")
    s.check(sort_nums(r) == [], "SORT matching nothing answers an empty SORT: %r" % r)
    s.bad(c.cmd("SORT", "(SHOESIZE)", "UTF-8", "ALL"), "SORT by an unknown key")
    s.bad(c.cmd("SORT", "()", "UTF-8", "ALL"), "SORT without keys")
    s.bad(c.cmd("SORT", "(DATE)", "ALL"), "SORT without a charset")
    r = c.cmd("SORT", "(DATE)", "X-NO-SUCH-CHARSET", "ALL")
    s.no(r, "SORT in an unknown charset")
    s.check(r.code().startswith("BADCHARSET"), "SORT BADCHARSET: %r" % r)

    r = c.cmd("THREAD", "ORDEREDSUBJECT", "UTF-8", "ALL")
    s.ok(r, "THREAD ORDEREDSUBJECT")
    s.check(thread_text(r) == "(2 (1)(6))(8 3)(4 5)(7)", "THREAD ORDEREDSUBJECT: %r" % r)
    r = c.cmd("THREAD", "REFERENCES", "UTF-8", "ALL")
    s.ok(r, "THREAD REFERENCES")
    s.check(thread_text(r) == "(2 1 6)(8 3)((4)(5))(7)", "THREAD REFERENCES: %r" % r)
    r = c.cmd("UID", "THREAD", "REFERENCES", "UTF-8", "SUBJECT", "apples")
    want = "(%d %d %d)" % (uids[1], uids[0], uids[5])
    s.check(thread_text(r) == want, "UID THREAD REFERENCES SUBJECT apples: want %s, %r" % (want, r))
    # Without its parent the reply is a thread of its own (the parent's
    # dummy, with one child, is pruned), and the grandchild hangs on it.
    r = c.cmd("THREAD", "REFERENCES", "UTF-8", "NOT", "2")
    s.check(thread_text(r) == "(8 3)(1 6)((4)(5))(7)", "THREAD REFERENCES without message 2: %r" % r)
    r = c.cmd("THREAD", "ORDEREDSUBJECT", "UTF-8", "SUBJECT", "nothing-like-this")
    s.check(thread_text(r) == "", "THREAD matching nothing answers an empty THREAD: %r" % r)
    s.bad(c.cmd("THREAD", "ZIGZAG", "UTF-8", "ALL"), "THREAD by an unknown algorithm")
    s.bad(c.cmd("THREAD", "REFERENCES", "ALL"), "THREAD without a charset")

    # ESEARCH (RFC 4731): the RETURN options, numbers and UIDs.
    r = c.cmd("SEARCH", "RETURN", "(MIN MAX COUNT ALL)", "SUBJECT", "apples")
    s.ok(r, "SEARCH RETURN (MIN MAX COUNT ALL)")
    m = r.find(r'^ESEARCH \(TAG "[^"]+"\)((?: [A-Z]+ [\d:,]+)*)$')
    items = dict(re.findall(r"([A-Z]+) ([\d:,]+)", m.group(1))) if m else {}
    s.check(items.get("MIN") == "1" and items.get("MAX") == "6" and items.get("COUNT") == "3"
            and numset(items.get("ALL", "0")) == {1, 2, 6}, "ESEARCH MIN MAX COUNT ALL: %r" % r)
    r = c.cmd("UID", "SEARCH", "RETURN", "(COUNT MAX)", "SUBJECT", "cherries")
    m = r.find(r'^ESEARCH \(TAG "[^"]+"\) UID((?: [A-Z]+ [\d:,]+)*)$')
    items = dict(re.findall(r"([A-Z]+) ([\d:,]+)", m.group(1))) if m else {}
    s.check(items == {"COUNT": "2", "MAX": str(uids[4])}, "UID SEARCH RETURN (COUNT MAX): %r" % r)
    r = c.cmd("SEARCH", "RETURN", "(MIN)", "SUBJECT", "nothing-like-this")
    s.has(r, r'^ESEARCH \(TAG "[^"]+"\)$', "ESEARCH without matches names nothing")
    c.cmd("LOGOUT")
    c.close()
