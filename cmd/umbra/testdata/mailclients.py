#!/usr/bin/env python3
"""Real mail clients against the Umbra demo: Python's smtplib and imaplib.

Usage: mailclients.py SETTINGS.json

SETTINGS.json holds {"alice": {...}, "bob": {...}, "alice2": {...}, "token": "..."}
where each account is {"address", "imap", "smtp", "username", "password"}
(alice2 is alice's second device). The script runs the whole story of the
bridge issue and prints one JSON object with the strings it used, so that
the Go test can scan the data directories for them. Any failure raises and
exits non-zero with a traceback.
"""
import email
import email.policy
import imaplib
import json
import os
import re
import smtplib
import ssl
import sys
import time
from email.message import EmailMessage

DEADLINE = 60  # seconds to wait for mail to travel or sync
START = time.time()


def log(what):
    print(f"mailclients.py: {time.time() - START:6.2f}s {what}", file=sys.stderr)


def hostport(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


def imap_login(acct, starttls=False):
    m = imaplib.IMAP4(*hostport(acct["imap"]))
    if starttls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        m.starttls(ssl_context=ctx)
    typ, _ = m.login(acct["username"], acct["password"])
    assert typ == "OK", typ
    return m


def send(acct, msg, starttls=False):
    s = smtplib.SMTP(*hostport(acct["smtp"]), timeout=30)
    if starttls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s.starttls(context=ctx)
    s.login(acct["username"], acct["password"])
    refused = s.send_message(msg)
    assert not refused, refused
    s.quit()


def search_subject(m, subject):
    """UID SEARCH CHARSET UTF-8 SUBJECT <literal>, as imaplib sends literals."""
    m.literal = subject.encode("utf-8")
    typ, data = m.uid("SEARCH", "CHARSET", "UTF-8", "SUBJECT")
    assert typ == "OK", (typ, data)
    return [int(x) for x in data[0].split()]


def wait_for(m, mailbox, subject, count=1):
    deadline = time.time() + DEADLINE
    while time.time() < deadline:
        typ, _ = m.select(mailbox)
        assert typ == "OK", (typ, mailbox)
        uids = search_subject(m, subject)
        if len(uids) >= count:
            return uids
        time.sleep(0.3)
    raise AssertionError(f"fewer than {count} messages {subject!r} in {mailbox} after {DEADLINE}s")


def fetch(m, uid):
    typ, data = m.uid("FETCH", str(uid), "(BODY.PEEK[] FLAGS)")
    assert typ == "OK", (typ, data)
    return email.message_from_bytes(data[0][1], policy=email.policy.default), data[0][0]


def main():
    cfg = json.load(open(sys.argv[1]))
    alice, bob, alice2, token = cfg["alice"], cfg["bob"], cfg["alice2"], cfg["token"]

    subject = f"Grüße aus Umbra ✓ {token}"
    body_line = f"The secret plan number {token} is in the attachment."
    folder = f"Projekte/Umbra-{token}"
    attachment = os.urandom(150_000) + bytes(range(256))

    # 1. Alice sends, with STARTTLS, a UTF-8 subject and a binary attachment.
    msg = EmailMessage()
    msg["From"] = alice["address"]
    msg["To"] = bob["address"]
    msg["Bcc"] = alice["address"]  # a blind copy to herself: invisible to bob
    msg["Subject"] = subject
    msg.set_content(body_line + "\n")
    msg.add_attachment(attachment, maintype="application", subtype="octet-stream", filename="plan.bin")
    send(alice, msg, starttls=True)

    log("alice sent")

    # 2. Bob's bridge receives it, bytes intact, with the security verdict.
    bm = imap_login(bob)
    uids = wait_for(bm, "INBOX", subject)
    got, _ = fetch(bm, uids[0])
    assert got["Subject"] == subject, got["Subject"]
    sec = got["Umbra-Security"]
    assert sec and sec.startswith("encrypted; signed=alice@a.test"), sec
    assert "key=chained" in sec, sec
    parts = [p for p in got.iter_attachments()]
    assert len(parts) == 1 and parts[0].get_content() == attachment, "attachment bytes differ"
    assert body_line in got.get_body(("plain",)).get_content()
    assert got["Bcc"] is None and alice["address"] not in str(got["To"]) + str(got["Cc"]), "Bcc visible"

    log("bob received it intact")

    # 3. Bob replies.
    reply = EmailMessage()
    reply["From"] = bob["address"]
    reply["To"] = alice["address"]
    reply["Subject"] = "Re: " + subject
    reply["In-Reply-To"] = got["Message-ID"]
    reply.set_content("Got it, thanks.\n")
    send(bob, reply)

    log("bob replied")

    # 4. Bob flags it, files it into a new folder, finds it there by subject, deletes it.
    typ, _ = bm.select("INBOX")
    typ, data = bm.uid("STORE", str(uids[0]), "+FLAGS", r"(\Flagged)")
    assert typ == "OK" and b"\\Flagged" in data[0], data
    typ, data = bm.create(folder)
    assert typ == "OK", data
    typ, data = bm.uid("MOVE", str(uids[0]), folder)
    assert typ == "OK", data
    assert search_subject(bm, subject) == [], "still in INBOX after MOVE"
    typ, data = bm.list()
    assert any(folder.encode() in line for line in data), data
    moved = wait_for(bm, folder, subject)
    _, meta = fetch(bm, moved[0])
    assert b"\\Flagged" in meta, meta
    typ, data = bm.uid("STORE", str(moved[0]), "+FLAGS", r"(\Deleted)")
    assert typ == "OK", data
    typ, data = bm.expunge()
    assert typ == "OK", data
    assert search_subject(bm, subject) == [], "still there after EXPUNGE"
    bm.logout()

    log("bob flagged, moved, searched, deleted")

    # 5. Alice gets the reply; her second device sees her Sent copy.
    am = imap_login(alice)
    wait_for(am, "INBOX", "Re: " + subject)
    # The Bcc copy, and the reply, whose subject contains the same words.
    blind = wait_for(am, "INBOX", subject, count=2)
    assert len(blind) == 2, blind
    am.logout()
    log("alice got the reply")
    a2 = imap_login(alice2)
    sent = wait_for(a2, "Sent", subject)
    copy, flags = fetch(a2, sent[0])
    assert copy["Subject"] == subject
    assert copy["Bcc"] == alice["address"], ("the Sent copy lost its Bcc", copy["Bcc"])
    assert [p.get_content() for p in copy.iter_attachments()] == [attachment], "Sent copy differs"
    a2.logout()

    log("alice2 sees the Sent copy")

    # 6. A dark address that does not exist is refused at submission.
    bad = EmailMessage()
    bad["From"] = alice["address"]
    bad["To"] = "nobody@b.test"
    bad["Subject"] = "to nobody"
    bad.set_content("x\n")
    try:
        send(alice, bad)
        raise AssertionError("nobody@b.test was accepted")
    except smtplib.SMTPRecipientsRefused as e:
        code, text = e.recipients["nobody@b.test"]
        assert code == 550 and b"cannot receive Umbra mail" in text, (code, text)

    print(json.dumps({"subject": subject, "body_line": body_line, "folder": folder, "token": token}))


if __name__ == "__main__":
    main()
