"""Conformance groups: mailboxes (LIST, CREATE, DELETE, RENAME, STATUS) and subscriptions."""

from conflib import caps, names, q
from imapwire import Literal

def test_mailboxes(s):
    c = s.conn()
    r = c.cmd("CAPABILITY")
    cs = caps(r)
    for cap in ["IMAP4REV1", "IDLE", "UIDPLUS", "MOVE", "UNSELECT", "NAMESPACE", "CHILDREN",
                "LIST-EXTENDED", "LIST-STATUS", "BINARY", "ESEARCH", "SEARCHRES", "ENABLE", "SPECIAL-USE"]:
        s.check(cap in cs, "%s advertised after login: %s" % (cap, sorted(cs)))
    r = c.cmd("NAMESPACE")
    s.ok(r, "NAMESPACE")
    s.has(r, r'^NAMESPACE \(\(""\s*"/"\)\)', "personal namespace with / delimiter")

    r = c.cmd("LIST", '""', '""')
    s.ok(r, 'LIST "" ""')
    s.has(r, r'^LIST \(\\Noselect\) "/" ""', "hierarchy delimiter and root")

    r = c.cmd("LIST", '""', '"*"')
    s.ok(r, "LIST *")
    n = names(r)
    for box, use in [("INBOX", None), ("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Trash", "\\Trash"),
                     ("Junk", "\\Junk"), ("Archive", "\\Archive")]:
        s.check(box in n, "LIST * has %s: %s" % (box, n))
        if use and box in n:
            s.check(use in n[box], "%s has %s: %s" % (box, use, n[box]))
    r = c.cmd("LIST", '""', "inbox")
    s.check("INBOX" in names(r), "INBOX is case-insensitive in LIST: %r" % r)
    r = c.cmd("LIST", '""', '"%"')
    s.check("INBOX" in names(r) and "Sent" in names(r), "LIST %%: %r" % r)
    r = c.cmd("LIST", '"Nothing/"', '"*"')
    s.ok(r, "LIST with a reference that matches nothing")
    s.check(not names(r), "LIST Nothing/* is empty: %r" % r)
    r = c.cmd("LIST", '""', '"*"', "RETURN", "(SPECIAL-USE)")
    s.ok(r, "LIST RETURN (SPECIAL-USE)")
    r = c.cmd("LIST", "(SPECIAL-USE)", '""', '"*"')
    s.ok(r, "LIST (SPECIAL-USE)")
    n = names(r)
    s.check("Sent" in n and "INBOX" not in n, "LIST (SPECIAL-USE) selects special-use only: %s" % n)

    # CREATE / DELETE / RENAME.
    s.ok(c.cmd("CREATE", "conf-box"), "CREATE")
    s.no(c.cmd("CREATE", "conf-box"), "CREATE of an existing name")
    s.no(c.cmd("CREATE", "INBOX"), "CREATE INBOX")
    s.ok(c.cmd("CREATE", q("conf box with spaces")), "CREATE with spaces")
    s.ok(c.cmd("CREATE", Literal("conf-literal")), "CREATE with a literal name")
    s.ok(c.cmd("CREATE", "conf-parent/child/leaf"), "CREATE with missing superiors")
    r = c.cmd("LIST", '""', '"conf*"')
    n = names(r)
    for box in ["conf-box", "conf box with spaces", "conf-literal", "conf-parent", "conf-parent/child",
                "conf-parent/child/leaf"]:
        s.check(box in n, "LIST has %s: %s" % (box, sorted(n)))
    s.check("\\HasChildren" in n.get("conf-parent", []), "conf-parent \\HasChildren: %s" % n.get("conf-parent"))
    s.check("\\HasNoChildren" in n.get("conf-box", []), "conf-box \\HasNoChildren: %s" % n.get("conf-box"))
    r = c.cmd("LIST", '""', '"conf-parent/%"')
    s.check(list(names(r)) == ["conf-parent/child"], "LIST conf-parent/%%: %r" % r)
    r = c.cmd("LIST", '"conf-parent/"', '"%"')
    s.check(list(names(r)) == ["conf-parent/child"], "LIST with reference conf-parent/: %r" % r)
    s.ok(c.cmd("CREATE", "conf-trailing/"), "CREATE with a trailing delimiter")
    r = c.cmd("LIST", '""', "conf-trailing")
    s.check("conf-trailing" in names(r), "trailing delimiter dropped: %r" % r)

    s.ok(c.cmd("RENAME", "conf-box", "conf-renamed"), "RENAME")
    r = c.cmd("LIST", '""', '"conf-*"')
    s.check("conf-renamed" in names(r) and "conf-box" not in names(r), "after RENAME: %r" % r)
    s.no(c.cmd("RENAME", "conf-nothing", "conf-x"), "RENAME of a missing mailbox")
    s.ok(c.cmd("CREATE", "conf-other"), "CREATE conf-other")
    s.no(c.cmd("RENAME", "conf-renamed", "conf-other"), "RENAME onto an existing name")
    s.ok(c.cmd("DELETE", "conf-other"), "DELETE conf-other")
    s.ok(c.cmd("RENAME", "conf-parent", "conf-moved"), "RENAME with inferiors")
    r = c.cmd("LIST", '""', '"conf-moved/*"')
    s.check("conf-moved/child/leaf" in names(r), "inferiors follow a RENAME: %r" % r)

    s.ok(c.cmd("DELETE", "conf-renamed"), "DELETE")
    s.no(c.cmd("DELETE", "conf-renamed"), "DELETE of a missing mailbox")
    s.no(c.cmd("DELETE", "INBOX"), "DELETE INBOX")
    s.ok(c.cmd("DELETE", "conf-moved/child/leaf"), "DELETE a leaf")
    s.ok(c.cmd("DELETE", q("conf box with spaces")), "DELETE a quoted name")
    s.no(c.cmd("SELECT", "conf-renamed"), "SELECT of a deleted mailbox")
    s.refused(c.cmd("CREATE"), "CREATE without a name")
    s.refused(c.cmd("DELETE"), "DELETE without a name")

    # STATUS.
    r = c.cmd("STATUS", "INBOX", "(MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)")
    s.ok(r, "STATUS")
    s.has(r, r"^STATUS INBOX \(.*MESSAGES \d+.*\)", "STATUS MESSAGES")
    s.has(r, r"UIDVALIDITY [1-9]\d*", "STATUS UIDVALIDITY nonzero")
    s.has(r, r"UIDNEXT [1-9]\d*", "STATUS UIDNEXT")
    r = c.cmd("STATUS", "conf-literal", "(MESSAGES SIZE)")
    s.ok(r, "STATUS SIZE")
    s.has(r, r"MESSAGES 0", "STATUS of an empty mailbox")
    s.has(r, r"SIZE 0", "STATUS SIZE of an empty mailbox")
    s.no(c.cmd("STATUS", "conf-nothing", "(MESSAGES)"), "STATUS of a missing mailbox")
    s.refused(c.cmd("STATUS", "INBOX", "(BOGUS)"), "STATUS with an unknown item")
    r = c.cmd("LIST", '""', "conf-literal", "RETURN", "(STATUS (MESSAGES UNSEEN))")
    s.ok(r, "LIST RETURN (STATUS)")
    s.has(r, r"^STATUS .*conf-literal.*MESSAGES 0", "LIST-STATUS data")
    c.cmd("DELETE", "conf-literal")
    c.cmd("DELETE", "conf-trailing")
    c.cmd("DELETE", "conf-moved/child")
    c.cmd("DELETE", "conf-moved")
    c.cmd("LOGOUT")
    c.close()

def test_subscriptions(s):
    c = s.conn()
    r = c.cmd("LSUB", '""', '"*"')
    s.ok(r, "LSUB")
    n = names(r, "LSUB")
    s.check("INBOX" in n and "Sent" in n, "default folders subscribed: %s" % n)
    s.ok(c.cmd("CREATE", "sub-box"), "CREATE for subscriptions")
    # RFC 3501 §6.3.3: CREATE does not subscribe.
    s.check("sub-box" not in names(c.cmd("LSUB", '""', '"*"'), "LSUB"), "CREATE did not subscribe")
    s.ok(c.cmd("SUBSCRIBE", "sub-box"), "SUBSCRIBE")
    s.check("sub-box" in names(c.cmd("LSUB", '""', '"*"'), "LSUB"), "LSUB after SUBSCRIBE")
    r = c.cmd("LIST", "(SUBSCRIBED)", '""', '"*"')
    s.ok(r, "LIST (SUBSCRIBED)")
    n = names(r)
    s.check("\\Subscribed" in n.get("sub-box", []), "LIST (SUBSCRIBED) marks \\Subscribed: %s" % n)
    s.check("conf-box" not in n, "LIST (SUBSCRIBED) leaves out the unsubscribed")
    r = c.cmd("LIST", '""', '"sub-*"', "RETURN", "(SUBSCRIBED)")
    s.check("\\Subscribed" in names(r).get("sub-box", []), "LIST RETURN (SUBSCRIBED): %r" % r)
    # RFC 3501 §6.3.4, §6.3.9: DELETE does not unsubscribe; the name stays
    # in LSUB and LIST (SUBSCRIBED) shows it \NonExistent (RFC 5258 §3.1).
    s.ok(c.cmd("DELETE", "sub-box"), "DELETE a subscribed mailbox")
    s.check("sub-box" in names(c.cmd("LSUB", '""', '"*"'), "LSUB"), "DELETE did not unsubscribe")
    r = c.cmd("LIST", "(SUBSCRIBED)", '""', '"*"')
    s.check("\\NonExistent" in names(r).get("sub-box", []), "deleted subscribed name \\NonExistent: %r" % r)
    s.check("sub-box" not in names(c.cmd("LIST", '""', '"*"')), "plain LIST leaves out the deleted")
    s.ok(c.cmd("UNSUBSCRIBE", "sub-box"), "UNSUBSCRIBE a name without a mailbox")
    s.check("sub-box" not in names(c.cmd("LSUB", '""', '"*"'), "LSUB"), "LSUB after UNSUBSCRIBE")
    s.ok(c.cmd("UNSUBSCRIBE", "sub-never"), "UNSUBSCRIBE of a name never subscribed")
    r = c.cmd("SUBSCRIBE", "sub-ghost")
    if s.dovecot:
        # DIFF: RFC 3501 §6.3.6 lets a server check that the mailbox exists
        # ("MAY validate"); Dovecot does, the bridge keeps any name.
        s.no(r, "Dovecot: SUBSCRIBE of a name without a mailbox")
    else:
        s.ok(r, "SUBSCRIBE of a name without a mailbox")
        s.check("sub-ghost" in names(c.cmd("LSUB", '""', '"*"'), "LSUB"), "LSUB shows a subscribed name without mailbox")
        s.ok(c.cmd("UNSUBSCRIBE", "sub-ghost"), "UNSUBSCRIBE sub-ghost")
    s.refused(c.cmd("SUBSCRIBE"), "SUBSCRIBE without a name")
    c.cmd("LOGOUT")
    c.close()
