#!/usr/bin/env python3
"""gen_vectors.py — writes vectors.json for docs/spec/keylog.md §6 with
nothing but hashlib: RFC 6962 tree hashes of the records
"signet <i> of alice@a.test" for several tree sizes, the checkpoint body of
each, and checkpoint bodies that must be refused, each with its error
class. Shares no code with the Go package."""
import base64
import hashlib
import json


def leaf(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node(l, r):
    return hashlib.sha256(b"\x01" + l + r).digest()


def mth(leaves):
    # RFC 6962 §2.1: split at the largest power of two below n.
    n = len(leaves)
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node(mth(leaves[:k]), mth(leaves[k:]))


records = [("signet %d of alice@a.test" % i).encode() for i in range(100)]
trees = []
for n in [1, 2, 3, 4, 5, 7, 8, 63, 64, 65, 100]:
    root = mth([leaf(r) for r in records[:n]])
    b64 = base64.b64encode(root).decode()
    trees.append({"size": n, "root": b64,
                  "checkpoint": "umbra-keylog/a.test\n%d\n%s\n" % (n, b64)})

good = trees[-1]["checkpoint"]
bad = [
    ("missing final newline", good[:-1]),
    ("four lines", good + "extra\n"),
    ("origin not umbra-keylog", good.replace("umbra-keylog/", "go.sum database tree/")),
    ("size with a leading zero", good.replace("\n100\n", "\n0100\n")),
    ("negative size", good.replace("\n100\n", "\n-1\n")),
    ("size with a plus sign", good.replace("\n100\n", "\n+100\n")),
    ("hash of 31 bytes", "umbra-keylog/a.test\n100\n%s\n" % base64.b64encode(b"\x00" * 31).decode()),
    ("hash without padding", "umbra-keylog/a.test\n100\n%s\n" % trees[-1]["root"].rstrip("=")),
    ("hash in URL-safe base64", "umbra-keylog/a.test\n100\n%s\n" % base64.urlsafe_b64encode(b"\xfb" * 32).decode()),
    ("CRLF line ends", good.replace("\n", "\r\n")),
]
json.dump({
    "comment": "docs/spec/keylog.md §6; made by gen_vectors.py",
    "record_format": "signet <i> of alice@a.test",
    "trees": trees,
    "bad_checkpoints": [{"name": n, "text": t, "error": "malformed_checkpoint"} for n, t in bad],
}, open("vectors.json", "w"), indent=1)
