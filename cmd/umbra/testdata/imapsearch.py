#!/usr/bin/env python3
"""IMAP SEARCH on a generated corpus, checked against a plain Python scan.

Usage: imapsearch.py SETTINGS.json

SETTINGS.json holds {"imap", "username", "password", "folder", "corpus":
DIR}. The script APPENDs every DIR/*.eml to a new folder with imaplib,
FETCHes the messages back as stored, and then, for each query, compares
the UIDs of UID SEARCH (CHARSET UTF-8, a literal) with a brute-force scan
of the fetched messages decoded by Python's email package (charsets,
RFC 2047 encoded words, quoted-printable and base64, HTML reduced to its
text by html.parser): case-insensitive substring, as RFC 3501 §6.4.4 and
RFC 9051 §6.4.4 say SEARCH matches. It prints one JSON object:
{"messages": N, "queries": N, "hits": N}; a mismatch raises.
"""
import email
import email.policy
import glob
import html.parser
import imaplib
import json
import os
import sys

QUERIES = [
    # (IMAP search key, string): substrings inside words, other charsets,
    # HTML-only mail, attachment names, encoded-word subjects and names.
    ("BODY", "report"), ("BODY", "EPORT"), ("BODY", "uarterl"), ("BODY", "xylophone"),
    ("BODY", "café"), ("BODY", "CAFÉ"), ("BODY", "Zürich"), ("BODY", "привет"), ("BODY", "ПРИВЕТ"),
    ("BODY", "отчёт"), ("BODY", "東京"), ("BODY", "会議"), ("BODY", "報告"), ("BODY", "€uro"),
    ("BODY", "“quoted”"), ("BODY", "naïve"), ("BODY", "ÅNGSTRÖM"), ("BODY", "œuvre"), ("BODY", "Ελλάδα"),
    ("BODY", ".pdf"), ("BODY", "müller-"), ("BODY", "ab"), ("BODY", "мо"),
    ("BODY", "margin"), ("BODY", "<p>"), ("BODY", "&amp;"),
    ("SUBJECT", "budget"), ("SUBJECT", "Москва"), ("SUBJECT", "東京"), ("SUBJECT", "naïve"), ("SUBJECT", "€uro"),
    ("FROM", "alice"), ("FROM", "Jürgen"), ("FROM", "ivan@ru"), ("FROM", "Петров"), ("FROM", "山田"),
    ("FROM", "chloé"), ("FROM", "de.test"),
    ("TEXT", "report"), ("TEXT", "corpus.test"), ("TEXT", "talk.lists"), ("TEXT", "週末"), ("TEXT", "multipart"),
]
# Keys with these strings must find something: the corpus has them.
MUST_FIND = {"report", "café", "привет", "東京", "報告", "€uro", ".pdf", "Москва", "Петров", "山田", "talk.lists"}


class Text(html.parser.HTMLParser):
    """The text of an HTML document: tag content outside script and style."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "title"):
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "title") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def html_text(s):
    p = Text()
    p.feed(s)
    p.close()
    return " ".join(p.parts)


def texts(raw):
    """The decoded texts of one message for each search key."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    header = "\n".join(f"{k}: {v}" for k, v in msg.items())
    body = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        name = part.get_filename()
        if name:
            body.append(name)
        if part.get_content_maintype() == "text" and part.get_content_disposition() != "attachment":
            text = part.get_content()
            if part.get_content_subtype() == "html":
                text = html_text(text)
            body.append(text)
    body = "\n".join(body)
    return {
        "SUBJECT": str(msg["Subject"] or ""),
        "FROM": str(msg["From"] or ""),
        "BODY": body,
        "TEXT": header + "\n" + body,
    }


def main():
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    host, port = cfg["imap"].rsplit(":", 1)
    m = imaplib.IMAP4(host, int(port))
    typ, _ = m.login(cfg["username"], cfg["password"])
    assert typ == "OK", typ
    folder = cfg["folder"]
    typ, data = m.create(folder)
    assert typ == "OK", (typ, data)
    files = sorted(glob.glob(os.path.join(cfg["corpus"], "*.eml")))
    for fn in files:
        with open(fn, "rb") as f:
            typ, data = m.append(folder, None, None, f.read())
        assert typ == "OK", (fn, typ, data)
    typ, _ = m.select(folder)
    assert typ == "OK", typ
    typ, data = m.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
    assert typ == "OK", typ
    stored = {}
    for item in data:
        if isinstance(item, tuple):
            meta = item[0].decode()
            uid = int(meta.split("UID ")[1].split()[0])
            stored[uid] = texts(item[1])
    assert len(stored) == len(files), (len(stored), len(files))
    hits = 0
    for key, s in QUERIES:
        m.literal = s.encode("utf-8")
        typ, data = m.uid("SEARCH", "CHARSET", "UTF-8", key)
        assert typ == "OK", (key, s, typ, data)
        got = sorted(int(x) for x in data[0].split())
        want = sorted(uid for uid, t in stored.items() if s.lower() in t[key].lower())
        if got != want:
            only_imap = sorted(set(got) - set(want))
            only_scan = sorted(set(want) - set(got))
            raise AssertionError(f"SEARCH {key} {s!r}: {len(got)} UIDs, scan {len(want)}; "
                                 f"only IMAP {only_imap[:10]}, only scan {only_scan[:10]}")
        if s in MUST_FIND and not want:
            raise AssertionError(f"SEARCH {key} {s!r}: the corpus should have it")
        hits += len(got)
    m.logout()
    print(json.dumps({"messages": len(stored), "queries": len(QUERIES), "hits": hits}))


if __name__ == "__main__":
    main()
