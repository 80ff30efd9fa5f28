#!/usr/bin/env python3
"""Independent implementation of the byte-level parts of docs/spec/dmap.md,
used to make testdata/dmap/vectors.json. It shares no code with umbra/dmap:
SHA-256 and HMAC come from hashlib/hmac, Ed25519, HKDF and Argon2id from
pyca/cryptography (>= 44). The Go test dmap/vectors_test.go checks that the
Go package produces exactly these bytes.

Usage: python3 gen_vectors.py > vectors.json
"""
import base64, hashlib, hmac, json, struct

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def seed(label):
    return hashlib.sha256(("umbra dmap vector " + label).encode()).digest()


def ed_public(sd):
    return Ed25519PrivateKey.from_private_bytes(sd).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def ed_sign(sd, msg):
    return Ed25519PrivateKey.from_private_bytes(sd).sign(msg)


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


# Spec §4.2: the signed proof message.
def proof(label, challenge, domain, address, key):
    d, a = domain.encode(), address.encode()
    return (label.encode() + b"\x00" + challenge + struct.pack(">H", len(d)) + d
            + struct.pack(">H", len(a)) + a + key)


DOMAIN = "a.test"
ADDRESS = "alice@a.test"


def proof_vector(label, challenge_label, signer_label, key):
    ch = hashlib.sha256(challenge_label.encode()).digest()
    msg = proof(label, ch, DOMAIN, ADDRESS, key)
    sd = seed(signer_label)
    return {"challenge": ch.hex(), "domain": DOMAIN, "address": ADDRESS, "key": key.hex(),
            "signer_seed": sd.hex(), "message": msg.hex(), "signature": ed_sign(sd, msg).hex()}


device = ed_public(seed("device"))
login = proof_vector("umbra-dmap-v1 login", "challenge 1", "device", device)
enroll = proof_vector("umbra-dmap-v1 enroll", "challenge 2", "signing", ed_public(seed("new device")))
enroll["signer"] = "signing"


# Spec §6.2: the backup access key.
def access_key(password, address, salt, t, m, p):
    a = address.encode()
    s = hashlib.sha256(b"umbra-dmap-v1 key-backup salt\x00" + struct.pack(">H", len(a)) + a + salt).digest()
    ikm = Argon2id(salt=s, length=32, iterations=t, lanes=p, memory_cost=m).derive(password)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"umbra-dmap-v1 key-backup access key").derive(ikm)


PASSWORD = "correct horse battery staple"
SALT = bytes(range(16))
T, M, P = 3, 65536, 4
access_seed = access_key(PASSWORD.encode(), ADDRESS, SALT, T, M, P)
access_pub = ed_public(access_seed)
ch3 = hashlib.sha256(b"challenge 3").digest()
backup_msg = proof("umbra-dmap-v1 key-backup", ch3, DOMAIN, ADDRESS, access_pub)
key_backup = {"password": PASSWORD, "address": ADDRESS, "domain": DOMAIN, "salt": SALT.hex(),
              "params": {"time": T, "memory_kib": M, "threads": P},
              "access_seed": access_seed.hex(), "access_key": access_pub.hex(),
              "challenge": ch3.hex(), "message": backup_msg.hex(),
              "signature": ed_sign(access_seed, backup_msg).hex()}

# Spec §4.3: tokens and their hashes.
tokens = []
for i in range(2):
    raw = hashlib.sha256(("token %d" % i).encode()).digest()
    tokens.append({"raw": raw.hex(), "wire": b64u(raw),
                   "access_hash": hashlib.sha256(b"umbra-dmap-v1 access-token\x00" + raw).hexdigest(),
                   "refresh_hash": hashlib.sha256(b"umbra-dmap-v1 refresh-token\x00" + raw).hexdigest()})

# Spec §5.6: device id.
device_id = {"key": device.hex(),
             "id": b64u(hashlib.sha256(b"umbra-dmap-v1 device-id\x00" + device).digest()[:12])}

# Spec §6.3: decoy salt.
decoy_key = seed("decoy")
decoy = {"key": decoy_key.hex(), "address": "nobody@a.test",
         "salt": hmac.new(decoy_key, b"umbra-dmap-v1 decoy salt\x00nobody@a.test", hashlib.sha256).digest()[:16].hex()}

# Spec §9.2: history frames.
signets = [b"first signet", b"second, longer signet \x00\xff"]
frames = {"signets": [s.hex() for s in signets],
          "body": b"".join(struct.pack(">I", len(s)) + s for s in signets).hex()}

print(json.dumps({"login": login, "enroll": enroll, "key_backup": key_backup, "tokens": tokens,
                  "device_id": device_id, "decoy_salt": decoy, "history_frames": frames}, indent=1))
