package vault

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cosmos/go-bip39"
	"golang.org/x/crypto/argon2"
)

// The vectors in testdata/vault were made by testdata/vault/gen_vectors.py,
// an independent implementation of docs/spec/vault.md (pyca/cryptography,
// hashlib); these tests check that this package agrees byte for byte.

const vectorDir = "../testdata/vault"

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectorDir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type vaultVector struct {
	Password string `json:"password"`
	Params   struct {
		Time      uint32 `json:"time"`
		MemoryKiB uint32 `json:"memory_kib"`
		Threads   uint8  `json:"threads"`
	} `json:"params"`
	Salt  string `json:"salt"`
	Nonce string `json:"nonce"`
	Keys  struct {
		Address        string `json:"address"`
		SigningSeed    string `json:"signing_seed"`
		EncryptionSeed string `json:"encryption_seed"`
		DeviceSeed     string `json:"device_seed"`
		RecoverySeed   string `json:"recovery_seed"`
		Storage        string `json:"storage"`
		Retired        []struct {
			CreatedUnix int64  `json:"created_unix"`
			Seed        string `json:"seed"`
		} `json:"retired"`
	} `json:"keys"`
	Plaintext      string `json:"plaintext"`
	Argon2idOutput string `json:"argon2id_output"`
	AESKey         string `json:"aes_key"`
	File           string `json:"file"`
	FileSHA256     string `json:"file_sha256"`
}

func TestVaultVector(t *testing.T) {
	t.Parallel()
	var v vaultVector
	readJSON(t, "vault-v1.json", &v)
	k := &Keys{
		Address:    v.Keys.Address,
		Signing:    ed25519.NewKeyFromSeed(unhex(t, v.Keys.SigningSeed)),
		Encryption: unhex(t, v.Keys.EncryptionSeed),
		Device:     ed25519.NewKeyFromSeed(unhex(t, v.Keys.DeviceSeed)),
		Recovery:   ed25519.NewKeyFromSeed(unhex(t, v.Keys.RecoverySeed)),
		Storage:    unhex(t, v.Keys.Storage),
	}
	for _, r := range v.Keys.Retired {
		k.Retired = append(k.Retired, RetiredKey{Created: time.Unix(r.CreatedUnix, 0).UTC(), Seed: unhex(t, r.Seed)})
	}
	p := Params{Time: v.Params.Time, MemoryKiB: v.Params.MemoryKiB, Threads: v.Params.Threads}
	salt, nonce := unhex(t, v.Salt), unhex(t, v.Nonce)
	want, err := os.ReadFile(filepath.Join(vectorDir, v.File))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(want); hex.EncodeToString(sum[:]) != v.FileSHA256 {
		t.Fatalf("%s does not match its recorded SHA-256", v.File)
	}

	// Intermediate values first, so a mismatch says which step differs.
	pt, err := encodeKeys(k)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(pt) != v.Plaintext {
		t.Fatalf("plaintext\n got %x\nwant %s", pt, v.Plaintext)
	}
	h := &header{params: p}
	copy(h.salt[:], salt)
	ikm := argon2.IDKey([]byte(v.Password), salt, p.Time, p.MemoryKiB, p.Threads, 32)
	if hex.EncodeToString(ikm) != v.Argon2idOutput {
		t.Fatalf("Argon2id output %x, want %s", ikm, v.Argon2idOutput)
	}
	key, err := deriveKey([]byte(v.Password), h)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(key) != v.AESKey {
		t.Fatalf("AES key %x, want %s", key, v.AESKey)
	}

	got, err := seal(bytes.NewReader(append(salt, nonce...)), productionBounds, []byte(v.Password), k, p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("sealed vault\n got %x\nwant %x", got, want)
	}
	opened, err := Open(filepath.Join(vectorDir, v.File), []byte(v.Password))
	if err != nil {
		t.Fatal(err)
	}
	assertKeysEqual(t, opened, k)
}

type recoveryVector struct {
	Entropy     string `json:"entropy"`
	Phrase      string `json:"phrase"`
	BIP39Seed   string `json:"bip39_seed"`
	Ed25519Seed string `json:"ed25519_seed"`
	PublicKey   string `json:"public_key"`
}

func TestRecoveryVectors(t *testing.T) {
	t.Parallel()
	var file struct {
		Vectors []recoveryVector `json:"vectors"`
	}
	readJSON(t, "recovery-v1.json", &file)
	if len(file.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	for _, v := range file.Vectors {
		// The phrase is the BIP-39 encoding of the entropy, and its seed
		// is BIP-39's: checks of the library, so a swap of it is caught.
		if m, err := bip39.NewMnemonic(unhex(t, v.Entropy)); err != nil || m != v.Phrase {
			t.Fatalf("mnemonic of %s: %q, %v", v.Entropy, m, err)
		}
		if s := bip39.NewSeed(v.Phrase, ""); hex.EncodeToString(s) != v.BIP39Seed {
			t.Fatalf("BIP-39 seed of %q: %x", v.Phrase, s)
		}
		k, err := RecoveryKey(v.Phrase)
		if err != nil {
			t.Fatalf("%q: %v", v.Phrase, err)
		}
		if hex.EncodeToString(k.Seed()) != v.Ed25519Seed {
			t.Fatalf("%q: seed %x, want %s", v.Phrase, k.Seed(), v.Ed25519Seed)
		}
		if hex.EncodeToString(k.Public().(ed25519.PublicKey)) != v.PublicKey {
			t.Fatalf("%q: public key %x, want %s", v.Phrase, k.Public(), v.PublicKey)
		}
	}
}
