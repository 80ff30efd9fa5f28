"""Conformance group: extensions only the bridge advertises. Dovecot 2.3
has no IMAP4rev2 (RFC 9051), no APPENDLIMIT (RFC 7889) and no
UTF8=ACCEPT (RFC 6855) in this configuration: there, the group checks
that they are not advertised, as a DIFF."""

from conflib import SIMPLE, append, caps


def test_extensions(s):
    c = s.conn()
    cs = caps(c.cmd("CAPABILITY"))
    if s.dovecot:
        # DIFF: Dovecot 2.3 speaks IMAP4rev1 only.
        for cap in ["IMAP4REV2", "UTF8=ACCEPT"]:
            s.check(cap not in cs, "Dovecot does not advertise %s: %s" % (cap, sorted(cs)))
        c.cmd("LOGOUT")
        c.close()
        return
    for cap in ["IMAP4REV2", "UTF8=ACCEPT", "APPENDLIMIT=67108864", "STATUS=SIZE"]:
        s.check(cap in cs, "%s advertised: %s" % (cap, sorted(cs)))
    s.ok(c.cmd("CREATE", "ext"), "CREATE ext")
    append(s, c, "ext", SIMPLE)
    r = c.cmd("STATUS", "ext", "(APPENDLIMIT SIZE DELETED)")
    s.ok(r, "STATUS APPENDLIMIT SIZE DELETED")
    s.has(r, r"APPENDLIMIT 67108864", "STATUS APPENDLIMIT (RFC 7889)")
    s.has(r, r"SIZE %d" % len(SIMPLE), "STATUS SIZE (RFC 8438)")
    s.has(r, r"DELETED 0", "STATUS DELETED (RFC 9051)")
    r = c.cmd("ENABLE", "IMAP4rev2")
    s.ok(r, "ENABLE IMAP4rev2")
    s.has(r, r"^ENABLED IMAP4rev2", "ENABLED IMAP4rev2")
    r = c.cmd("SELECT", "ext")
    s.ok(r, "SELECT under IMAP4rev2")
    s.hasnt(r, r"RECENT", "no RECENT under IMAP4rev2 (RFC 9051 Appendix E)")
    s.has(r, r"^LIST \(\) \"/\" \"?ext\"?", "SELECT gives LIST under IMAP4rev2 (RFC 9051 §6.3.2)")
    r = c.cmd("SEARCH", "ALL")
    s.has(r, r"^ESEARCH \(TAG \"c\d+\"\) ALL 1", "SEARCH answers ESEARCH under IMAP4rev2")
    r = c.cmd("FETCH", "1", "FLAGS")
    s.hasnt(r, r"\\Recent", "no \\Recent under IMAP4rev2")
    r = c.cmd("ENABLE", "UTF8=ACCEPT")
    s.has(r, r"^ENABLED UTF8=ACCEPT", "ENABLE UTF8=ACCEPT (RFC 6855)")
    s.ok(c.cmd("CREATE", '"ext/Grüße"'), "CREATE with a UTF-8 name after UTF8=ACCEPT")
    r = c.cmd("LIST", '""', '"ext/*"')
    s.check(any("Grüße" in u.encode("latin-1").decode("utf-8", "replace") for u in r.untagged),
            "LIST shows the UTF-8 name: %r" % r)
    r = c.cmd("APPEND", "ext", "{%d+}" % (1 << 27))
    s.refused(r, "APPEND over APPENDLIMIT, non-synchronizing")
    c.close()
