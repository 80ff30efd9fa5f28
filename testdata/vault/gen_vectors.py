#!/usr/bin/env python3
"""Independent implementation of docs/spec/vault.md, used to make the test
vectors in this directory. It shares no code with umbra/vault: Argon2id,
HKDF, AES-GCM and Ed25519 come from pyca/cryptography (>= 44), PBKDF2 from
hashlib, and the BIP-39 encoding is written out below. The Go tests check
that umbra/vault produces exactly these bytes.

Usage: python3 gen_vectors.py WORDLIST   (the BIP-39 English list, one word
a line; e.g. extracted from github.com/cosmos/go-bip39/wordlist.go)
"""
import hashlib, json, struct, sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives import serialization

words = open(sys.argv[1]).read().split()
assert len(words) == 2048


def hkdf(ikm, info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(ikm)


def ed25519_public(seed):
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# Spec §8: recovery phrase -> recovery key.
def mnemonic(entropy):
    assert len(entropy) == 32
    bits = int.from_bytes(entropy + hashlib.sha256(entropy).digest()[:1], "big")
    return " ".join(words[(bits >> (11 * (23 - i))) & 2047] for i in range(24))


recovery = []
for entropy in [bytes(32), b"\xff" * 32,
                bytes.fromhex("68a79eaca2324873eacc50cb9c6eca8cc68ea5d936f98787c60c7ebc74e6ce7c"),
                bytes(range(32))]:
    phrase = mnemonic(entropy)
    seed = hashlib.pbkdf2_hmac("sha512", phrase.encode(), b"mnemonic", 2048, 64)
    ed = hkdf(seed, b"umbra recovery signing key v1")
    recovery.append({"entropy": entropy.hex(), "phrase": phrase, "bip39_seed": seed.hex(),
                     "ed25519_seed": ed.hex(), "public_key": ed25519_public(ed).hex()})
json.dump({"comment": "BIP-39 phrase -> seed (empty passphrase) -> HKDF-SHA256 info 'umbra recovery signing key v1' -> Ed25519 seed; docs/spec/vault.md section 8",
           "vectors": recovery}, open("recovery-v1.json", "w"), indent=1)
open("recovery-v1.json", "a").write("\n")


# Spec §5: the plaintext key set.
def field(tag, value):
    return bytes([tag]) + struct.pack(">H", len(value)) + value


keys = {
    "address": "alice@a.test",
    "signing_seed": (b"\x01" * 32).hex(),
    "encryption_seed": (b"\x02" * 32).hex(),
    "device_seed": (b"\x03" * 32).hex(),
    "recovery_seed": (b"\x04" * 32).hex(),
    "storage": (b"\x05" * 32).hex(),
    "retired": [{"created_unix": 1767225600, "seed": (b"\x06" * 32).hex()},
                {"created_unix": 1769817600, "seed": (b"\x07" * 32).hex()}],
}
pt = field(1, keys["address"].encode())
for tag, name in [(2, "signing_seed"), (3, "encryption_seed"), (4, "device_seed"),
                  (5, "recovery_seed"), (6, "storage")]:
    pt += field(tag, bytes.fromhex(keys[name]))
for r in keys["retired"]:
    pt += field(7, struct.pack(">Q", r["created_unix"]) + bytes.fromhex(r["seed"]))

# Spec §2-§4: header, key derivation, sealing.
password = b"correct horse battery staple"
t, m, p = 1, 8192, 1
salt = bytes(range(16))
nonce = bytes(range(0xa0, 0xac))
header = (b"UMBRAVLT" + bytes([1, 1]) + struct.pack(">IIB", t, m, p) + salt + nonce
          + struct.pack(">I", len(pt) + 16))
ikm = Argon2id(salt=salt, length=32, iterations=t, lanes=p, memory_cost=m).derive(password)
key = hkdf(ikm, b"umbra vault v1 aes-256-gcm key")
vault = header + AESGCM(key).encrypt(nonce, pt, header)
open("vault-v1.vlt", "wb").write(vault)
json.dump({"comment": "inputs and intermediate values of vault-v1.vlt; docs/spec/vault.md section 9",
           "password": password.decode(), "params": {"time": t, "memory_kib": m, "threads": p},
           "salt": salt.hex(), "nonce": nonce.hex(), "keys": keys, "plaintext": pt.hex(),
           "argon2id_output": ikm.hex(), "aes_key": key.hex(), "file": "vault-v1.vlt",
           "file_sha256": hashlib.sha256(vault).hexdigest()},
          open("vault-v1.json", "w"), indent=1)
open("vault-v1.json", "a").write("\n")
