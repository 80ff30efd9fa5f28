"""Conformance group: QRESYNC (RFC 7162 §3.2), which both servers
advertise: VANISHED in place of EXPUNGE once enabled, for this session's
and another session's expunges; UID FETCH (CHANGEDSINCE VANISHED); and a
reselect with the client's last mod-sequence answered with CLOSED,
VANISHED (EARLIER) and the FETCHes of what changed, exactly."""

import re

from conflib import SIMPLE, append, caps, numset


def vanished(r, earlier):
    """The UIDs of the VANISHED responses of r, with or without (EARLIER)."""
    pat = r"^VANISHED \(EARLIER\) ([\d:,]+)$" if earlier else r"^VANISHED ([\d:,]+)$"
    out = set()
    for m in r.all(pat):
        out |= numset(m.group(1))
    return out


def fetched(r):
    """UID -> (flags, modseq) of the FETCH responses of r."""
    out = {}
    for m in r.all(r"^\d+ FETCH \((.*)\)$"):
        body = m.group(1)
        uid = re.search(r"UID (\d+)", body)
        flags = re.search(r"FLAGS \(([^)]*)\)", body)
        modseq = re.search(r"MODSEQ \((\d+)\)", body)
        if uid:
            out[int(uid.group(1))] = (set(flags.group(1).split()) - {"\\Recent"} if flags else None,
                                      int(modseq.group(1)) if modseq else None)
    return out


def test_qresync(s):
    c = s.conn()
    s.check("QRESYNC" in caps(c.cmd("CAPABILITY")), "QRESYNC advertised")
    s.ok(c.cmd("CREATE", "qr"), "CREATE qr")
    for _ in range(6):
        append(s, c, "qr", SIMPLE)
    # Before ENABLE, the SELECT parameter is a client error (§3.2.5).
    s.bad(c.cmd("SELECT", "qr", "(QRESYNC (1 1))"), "QRESYNC before ENABLE QRESYNC")
    r = c.cmd("ENABLE", "QRESYNC")
    s.ok(r, "ENABLE QRESYNC")
    s.has(r, r"^ENABLED .*QRESYNC", "ENABLED QRESYNC")
    r = c.cmd("SELECT", "qr")
    s.ok(r, "SELECT qr")
    # QRESYNC enables CONDSTORE (§3.2.3): HIGHESTMODSEQ without asking.
    m = r.find(r"^OK \[HIGHESTMODSEQ (\d+)\]")
    s.check(m is not None, "HIGHESTMODSEQ after ENABLE QRESYNC: %r" % r)
    highest = int(m.group(1)) if m else 0
    m = r.find(r"UIDVALIDITY (\d+)")
    uv = int(m.group(1)) if m else 0

    # Another session expunges UID 2 and flags UID 1: this one hears
    # VANISHED 2, never EXPUNGE.
    d = s.conn()
    s.ok(d.cmd("SELECT", "qr"), "second session SELECT")
    d.cmd("UID", "STORE", "2", "+FLAGS.SILENT", "(\\Deleted)")
    s.ok(d.cmd("EXPUNGE"), "second session EXPUNGE")
    d.cmd("UID", "STORE", "1", "+FLAGS.SILENT", "(\\Flagged)")
    d.cmd("LOGOUT")
    d.close()
    r = c.cmd("NOOP")
    s.check(vanished(r, False) == {2}, "another session's expunge is VANISHED 2: %r" % r)
    s.hasnt(r, r"EXPUNGE", "no EXPUNGE once QRESYNC is enabled")
    s.check(fetched(r).get(1, (None,))[0] == {"\\Flagged"}, "another session's flags reach this one: %r" % r)

    # Its own expunge of UID 5.
    c.cmd("UID", "STORE", "5", "+FLAGS.SILENT", "(\\Deleted)")
    r = c.cmd("EXPUNGE")
    s.ok(r, "EXPUNGE")
    s.check(vanished(r, False) == {5}, "EXPUNGE answers VANISHED 5: %r" % r)
    s.hasnt(r, r"^\d+ EXPUNGE", "EXPUNGE answers no EXPUNGE under QRESYNC")

    r = c.cmd("UID", "FETCH", "1:6", "(FLAGS)", "(CHANGEDSINCE %d VANISHED)" % highest)
    s.ok(r, "UID FETCH CHANGEDSINCE VANISHED")
    s.check(vanished(r, True) == {2, 5}, "UID FETCH VANISHED (EARLIER) 2,5: %r" % r)
    f = fetched(r)
    s.check(set(f) == {1} and f[1][1] is not None and f[1][1] > highest,
            "UID FETCH CHANGEDSINCE returns UID 1 alone, with MODSEQ: %r" % r)
    r = c.cmd("UID", "FETCH", "3:4", "(FLAGS)", "(CHANGEDSINCE %d VANISHED)" % highest)
    s.check(not vanished(r, True) and not fetched(r), "nothing changed among UIDs 3:4: %r" % r)
    s.bad(c.cmd("FETCH", "1", "(FLAGS)", "(CHANGEDSINCE 1 VANISHED)"), "VANISHED in FETCH (not UID FETCH)")
    s.bad(c.cmd("UID", "FETCH", "1", "(FLAGS)", "(VANISHED)"), "VANISHED without CHANGEDSINCE")

    # The reselect: CLOSED for the mailbox left, then what changed since.
    r = c.cmd("SELECT", "qr", "(QRESYNC (%d %d 1:6))" % (uv, highest))
    s.ok(r, "SELECT QRESYNC")
    s.has(r, r"^OK \[CLOSED\]", "CLOSED on a reselect (§3.2.11)")
    s.check(vanished(r, True) == {2, 5}, "SELECT QRESYNC: VANISHED (EARLIER) 2,5: %r" % r)
    f = fetched(r)
    s.check(set(f) == {1} and f[1][0] == {"\\Flagged"} and f[1][1] is not None,
            "SELECT QRESYNC: FETCH of UID 1 with FLAGS and MODSEQ: %r" % r)
    s.has(r, r"^4 EXISTS", "SELECT QRESYNC: 4 EXISTS")
    # Known UIDs limit the answer (§3.2.5.1); seq-match data is accepted.
    r = c.cmd("EXAMINE", "qr", "(QRESYNC (%d %d 3:6 (1:2 3:4)))" % (uv, highest))
    s.ok(r, "EXAMINE QRESYNC with known UIDs and sequence match data")
    s.check(vanished(r, True) == {5} and not fetched(r), "EXAMINE QRESYNC 3:6: VANISHED (EARLIER) 5 only: %r" % r)
    # Up to date: nothing to say.
    m = c.cmd("STATUS", "qr", "(HIGHESTMODSEQ)").find(r"HIGHESTMODSEQ (\d+)")
    now = int(m.group(1)) if m else 0
    r = c.cmd("SELECT", "qr", "(QRESYNC (%d %d))" % (uv, now))
    s.check(not vanished(r, True) and not fetched(r), "SELECT QRESYNC at HIGHESTMODSEQ: %r" % r)
    # Another UIDVALIDITY: the cache is void, nothing is resynchronised.
    r = c.cmd("SELECT", "qr", "(QRESYNC (%d %d))" % (uv + 1 if uv < 4294967295 else 1, highest))
    s.ok(r, "SELECT QRESYNC with another UIDVALIDITY")
    s.check(not vanished(r, True) and not fetched(r), "another UIDVALIDITY: no VANISHED, no FETCH: %r" % r)
    for bad in ["(QRESYNC (%d))" % uv, "(QRESYNC (%d x))" % uv, "(QRESYNC %d 1)" % uv]:
        s.bad(c.cmd("SELECT", "qr", bad), "SELECT %s" % bad)
    r = c.cmd("SELECT", "qr", "(QRESYNC (0 1))")
    if s.dovecot:
        # DIFF: RFC 7162 §7 makes the UIDVALIDITY an nz-number; Dovecot
        # takes 0 as a UIDVALIDITY that matches nothing.
        s.ok(r, "Dovecot: SELECT QRESYNC with UIDVALIDITY 0")
    else:
        s.bad(r, "SELECT QRESYNC with UIDVALIDITY 0")
    c.cmd("LOGOUT")
    c.close()
