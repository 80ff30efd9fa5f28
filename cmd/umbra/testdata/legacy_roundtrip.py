#!/usr/bin/env python3
"""legacy_roundtrip.py SETTINGS.json — the user's side of a round trip with
the legacy world, through alice's bridge with Python's own smtplib and
imaplib: send to a Postfix user over STARTTLS, then (once the test has
made the reply arrive) read it.

Phase "send" sends; phase "read" waits for the reply and prints, as JSON,
its Umbra-Security field and the Sent copies' fields."""
import email
import imaplib
import json
import smtplib
import ssl
import sys
import time

s = json.load(open(sys.argv[1]))
phase = sys.argv[2]
ctx = ssl.create_default_context(cafile=s["ca"])
ctx.check_hostname = False  # the bridge's certificate names 127.0.0.1 as an IP SAN

if phase == "send":
    host, port = s["smtp"].rsplit(":", 1)
    with smtplib.SMTP(host, int(port), timeout=30) as c:
        c.starttls(context=ctx)
        c.login(s["user"], s["password"])
        msg = ("From: Alice <alice@a.test>\r\nTo: Carol <carol@legacy.test>\r\n"
               "Subject: %s\r\nMessage-ID: <%s>\r\n\r\nHello Carol, this left Umbra for the old world.\r\n") % (
                   s["subject"], s["msgid"])
        c.sendmail("alice@a.test", ["carol@legacy.test"], msg.encode())
    print("{}")
    sys.exit(0)

host, port = s["imap"].rsplit(":", 1)
c = imaplib.IMAP4(host, int(port))
c.starttls(ssl_context=ctx)
c.login(s["user"], s["password"])
deadline = time.time() + 60
found = None
while time.time() < deadline:
    c.select("INBOX", readonly=True)
    typ, data = c.search(None, "SUBJECT", '"Re: ' + s["subject"] + '"')
    if data[0]:
        found = data[0].split()[-1]
        break
    time.sleep(0.5)
if not found:
    sys.exit("no reply from carol in alice's INBOX")
typ, data = c.fetch(found, "(BODY.PEEK[])")
reply = email.message_from_bytes(data[0][1])
c.select("Sent", readonly=True)
typ, data = c.search(None, "SUBJECT", '"' + s["subject"] + '"')
sent = []
for n in data[0].split():
    typ, d = c.fetch(n, "(BODY.PEEK[HEADER])")
    sent.append(email.message_from_bytes(d[0][1]).get("Umbra-Security", ""))
c.logout()
print(json.dumps({
    "reply_security": reply.get("Umbra-Security", ""),
    "reply_body": reply.get_payload(decode=True).decode("utf-8", "replace"),
    "sent_security": sent,
}))
