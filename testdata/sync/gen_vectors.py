#!/usr/bin/env python3
"""Independent implementation of the byte-level parts of docs/spec/sync.md,
used to make testdata/sync/vectors.json. It shares no code with
umbra/bridge/syncdoc: SHA-256 from hashlib, HKDF-SHA256 and AES-256-GCM from
pyca/cryptography. The Go test bridge/syncdoc/vectors_test.go checks that the
Go package produces exactly these bytes, and opens and parses them back.

Usage: python3 gen_vectors.py > vectors.json
"""
import base64, hashlib, hmac, json, struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAX_SEALED = 64 << 20  # spec §4.3
OVERHEAD = 1 + 12 + 16
MIN_PADDED = 256


def seed(label):
    return hashlib.sha256(("umbra sync vector " + label).encode()).digest()


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


# Spec §1: message keys of delivered mail.
def mail_key(doc_id):
    return b64u(hashlib.sha256(b"umbra mail key v1\x00" + doc_id.encode()).digest()[:16])


# Spec §3: the key of one document.
def doc_key(storage, doc_id):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"umbra sync document key v1\x00" + doc_id.encode()).derive(storage)


# Spec §4.1: Padmé and the padded length.
def padme(l):
    if l < 2:
        return l
    e = l.bit_length() - 1
    s = e.bit_length()
    mask = (1 << (e - s)) - 1
    return (l + mask) & ~mask


def pad_size(n):
    return min(max(padme(n + 1), MIN_PADDED), MAX_SEALED - OVERHEAD)


# Spec §4.2: associated data.
def aad(doc_id, kind, revision):
    i, k = doc_id.encode(), kind.encode()
    return bytes([1, len(i)]) + i + bytes([len(k)]) + k + struct.pack(">Q", revision)


# Spec §4: the sealed form.
def seal(storage, doc_id, kind, revision, nonce, plaintext):
    padded = plaintext + b"\x80" + bytes(pad_size(len(plaintext)) - len(plaintext) - 1)
    ct = AESGCM(doc_key(storage, doc_id)).encrypt(nonce, padded, aad(doc_id, kind, revision))
    return b"\x01" + nonce + ct


def text(s):
    b = s.encode()
    return bytes([len(b)]) + b


# Spec §5: msg.
def content(d):
    sec, mime = d["security"].encode(), d["mime"].encode()
    return (b"\x01" + d["key"].encode() + struct.pack(">qh", d["internal_date_ms"], d["zone_minutes"])
            + struct.pack(">H", len(sec)) + sec + struct.pack(">I", len(mime)) + mime)


# Spec §6: meta.
def meta(d):
    flags = sorted(set(f.encode() for f in d["flags"]))
    out = (b"\x01" + d["key"].encode() + bytes([1 if d["deleted"] else 0]) + struct.pack(">q", d["updated"])
           + text(d["device"]) + text(d["mailbox"]) + bytes([len(flags)]))
    for f in flags:
        out += bytes([len(f)]) + f
    return out


# Spec §7: folders.
def folders(d):
    es = sorted(d["entries"], key=lambda e: e["name"].encode())
    out = b"\x01" + struct.pack(">H", len(es))
    for e in es:
        out += (text(e["name"]) + bytes([1 if e["deleted"] else 0]) + struct.pack(">q", e["updated"])
                + text(e["device"]))
    return out


# Spec §1: the id of a contact document.
def contact_id(storage, address):
    k = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"umbra contact id v1").derive(storage)
    return "p-" + b64u(hmac.new(k, address.lower().encode(), hashlib.sha256).digest()[:16])


def key_part(p):
    k = bytes.fromhex(p["key_hex"])
    return struct.pack(">qI", p["at"], len(k)) + k


# Spec §5.5: contact, version 1 without a pin, version 2 with one.
def contact(d):
    pinned = d["pin"]["at"] != 0 or d["pin"]["key_hex"] != "" or d["verified"] != 0
    out = bytes([2 if pinned else 1]) + text(d["address"]) + struct.pack(">q", d["last_seen"])
    out += key_part(d["autocrypt"]) + bytes([1 if d["mutual"] else 0])
    out += key_part(d["imported"]) + key_part(d["published"]) + struct.pack(">q", d["wkd_next"])
    if pinned:
        out += key_part(d["pin"]) + struct.pack(">q", d["verified"])
    return out


# Spec §2: a device's spam document id.
def spam_id(device):
    return "spam:" + hashlib.sha256(b"umbra spam doc v1\x00" + device.encode()).digest()[:12].hex()


# Spec §5.6: spam, version 2 when it has entries.
def spam(d):
    plus, minus = bytes.fromhex(d["plus_hex"]), bytes.fromhex(d["minus_hex"])
    out = (text(d["device"]) + struct.pack(">q", d["updated"]) + struct.pack(">I", len(plus)) + plus
           + struct.pack(">I", len(minus)) + minus)
    ledger = d["ledger"]
    if not ledger:
        return b"\x01" + out
    out += struct.pack(">I", len(ledger))
    for e in ledger:
        out += e["key"].encode() + struct.pack(">q", e["at"]) + e["judged"].encode() + struct.pack(">bb", e["spam"], e["ham"])
    return b"\x02" + out


# Spec §5.7: keyring.
def keyring(d):
    return b"\x01" + bytes.fromhex(d["signing_hex"]) + bytes.fromhex(d["encryption_hex"])


def main():
    storage = seed("storage key")
    key1 = mail_key("mail-7")
    key2 = b64u(seed("message key 2")[:16])
    mime = ("From: alice@a.test\r\nTo: bob@b.test\r\nSubject: Vectors\r\n"
            "Date: Fri, 02 Jan 2026 03:04:05 +0100\r\nMessage-ID: <v1@a.test>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n" + "Grüße aus Umbra.\r\n" * 12)
    docs = [
        ("content", "c-" + key1, "msg", 1, content, {
            "key": key1, "internal_date_ms": 1767319445123, "zone_minutes": 60,
            "security": "encrypted; signed=alice@a.test; key=chained", "mime": mime}),
        ("meta", "m-" + key1, "meta", 3, meta, {
            "key": key1, "mailbox": "Archive/2026", "flags": ["\\Seen", "$Label1", "\\Answered"],
            "deleted": False, "updated": 1767319500000, "device": "kt1AynM0cD_WjOG_"}),
        ("meta_deleted", "m-" + key2, "meta", 2, meta, {
            "key": key2, "mailbox": "", "flags": [], "deleted": True,
            "updated": 1767319600000, "device": "AAAAAAAAAAAAAAAA"}),
        ("folders", "folders", "folders", 7, folders, {"entries": [
            {"name": "Reçus/2026", "deleted": False, "updated": 1767319000000, "device": "kt1AynM0cD_WjOG_"},
            {"name": "Archive/2026", "deleted": False, "updated": 1767318000000, "device": "AAAAAAAAAAAAAAAA"},
            {"name": "Old", "deleted": True, "updated": 1767319700000, "device": "kt1AynM0cD_WjOG_"}]}),
        ("folders_empty", "folders", "folders", 1, folders, {"entries": []}),
        ("contact_legacy", contact_id(storage, "Carol@Legacy.test"), "contact", 2, contact, {
            "address": "Carol@Legacy.test", "last_seen": 1767319000000,
            "autocrypt": {"at": 1767318000000, "key_hex": seed("autocrypt key")[:20].hex()}, "mutual": True,
            "imported": {"at": 0, "key_hex": ""},
            "published": {"at": 1767317000000, "key_hex": seed("wkd key")[:24].hex()}, "wkd_next": 1767921800000,
            "pin": {"at": 0, "key_hex": ""}, "verified": 0}),
        ("contact_pinned", contact_id(storage, "bob@b.test"), "contact", 5, contact, {
            "address": "bob@b.test", "last_seen": 1767319100000,
            "autocrypt": {"at": 0, "key_hex": ""}, "mutual": False,
            "imported": {"at": 0, "key_hex": ""}, "published": {"at": 0, "key_hex": ""}, "wkd_next": 0,
            "pin": {"at": 1767319200000, "key_hex": seed("bob's signet")[:32].hex()}, "verified": 1767319300000}),
        ("spam", spam_id("kt1AynM0cD_WjOG_"), "spam", 4, spam, {
            "device": "kt1AynM0cD_WjOG_", "updated": 1767319800000,
            "plus_hex": seed("spam plus")[:16].hex(), "minus_hex": "", "ledger": []}),
        ("spam_ledger", spam_id("AAAAAAAAAAAAAAAA"), "spam", 9, spam, {
            "device": "AAAAAAAAAAAAAAAA", "updated": 1767319900000,
            "plus_hex": seed("spam plus")[:16].hex(), "minus_hex": seed("spam minus")[:8].hex(), "ledger": [
                {"key": key1, "at": 1767319890000, "judged": "h", "spam": -1, "ham": 1},
                {"key": key2, "at": 1767319850000, "judged": "n", "spam": -1, "ham": 0}]}),
        ("keyring", "keyring", "keyring", 3, keyring, {
            "signing_hex": seed("signing seed").hex(), "encryption_hex": seed("encryption seed").hex()}),
    ]
    out = {
        "description": "docs/spec/sync.md §9; made by gen_vectors.py",
        "storage_key_hex": storage.hex(),
        "mail_keys": [{"mail_doc_id": i, "key": mail_key(i)} for i in ("mail-7", "mail-1", "42")],
        "pad_sizes": [{"plaintext_len": n, "padded_len": pad_size(n)}
                      for n in (0, 1, 255, 256, 300, 1000, 4096, 5000, 65536, 500000, 67104768, 67108834)],
        "documents": [],
    }
    for label, doc_id, kind, rev, enc, fields in docs:
        nonce = seed("nonce " + label)[:12]
        pt = enc(fields)
        sealed = seal(storage, doc_id, kind, rev, nonce, pt)
        out["documents"].append({
            "label": label, "id": doc_id, "kind": kind, "revision": rev, "fields": fields,
            "plaintext_hex": pt.hex(), "doc_key_hex": doc_key(storage, doc_id).hex(),
            "aad_hex": aad(doc_id, kind, rev).hex(), "nonce_hex": nonce.hex(),
            "padded_len": pad_size(len(pt)), "sealed_hex": sealed.hex()})
    print(json.dumps(out, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
