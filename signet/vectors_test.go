package signet

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/signet/vectors.json from the code")

// vector is one entry of testdata/signet/vectors.json (docs/spec/signet.md
// §8). Private keys are given as the 32-byte seeds the spec's derivation
// starts from, so a second implementation can rebuild every byte: Ed25519
// signatures are deterministic and so is the encoding.
type vector struct {
	Name        string            `json:"name"`
	Seeds       map[string]string `json:"seeds"` // key label → hex seed
	Signet      string            `json:"signet"`
	Fingerprint string            `json:"fingerprint"`
	Human       string            `json:"fingerprint_human"`
	VerifyAt    time.Time         `json:"verify_at"`
}

const vectorsPath = "../testdata/signet/vectors.json"

func seedHex(label string) string {
	s := sha256.Sum256([]byte(label))
	return hex.EncodeToString(s[:])
}

func buildVectors(t *testing.T) []vector {
	o := newTestOrg(t, "example.org")
	g0 := newTestUser(t, o, "alice@example.org", 0, nil, 0)
	g1 := newTestUser(t, o, "alice@example.org", 1, &g0, CustodyPrevious)
	g2 := newTestUser(t, o, "alice@example.org", 2, &g1, CustodyRecovery)
	orgSeeds := map[string]string{
		"pok":               seedHex("umbra test signing example.org pok"),
		"sok-signets":       seedHex("umbra test signing example.org sok signets"),
		"sok-messages":      seedHex("umbra test signing example.org sok messages"),
		"org-encryption":    seedHex("umbra test encryption example.org"),
		"tls-pin-preimage":  hex.EncodeToString([]byte("tls example.org")),
		"user-recovery":     seedHex("umbra test signing alice@example.org recovery"),
		"user-signing-a":    seedHex("umbra test signing alice@example.org a"),
		"user-encryption-a": seedHex("umbra test encryption alice@example.org a"),
		"user-signing-b":    seedHex("umbra test signing alice@example.org b"),
		"user-encryption-b": seedHex("umbra test encryption alice@example.org b"),
		"user-signing-c":    seedHex("umbra test signing alice@example.org c"),
		"user-encryption-c": seedHex("umbra test encryption alice@example.org c"),
	}
	mk := func(name string, b []byte) vector {
		fp := FingerprintOf(b)
		return vector{Name: name, Seeds: orgSeeds, Signet: hex.EncodeToString(b), Fingerprint: fp.String(), Human: fp.Human(), VerifyAt: now}
	}
	return []vector{
		mk("organisation example.org", o.org.Bytes()),
		mk("user alice@example.org, first signet", g0.signet.Bytes()),
		mk("user alice@example.org, rotation (custody by previous signing key)", g1.signet.Bytes()),
		mk("user alice@example.org, restart (custody by recovery key)", g2.signet.Bytes()),
	}
}

func TestVectors(t *testing.T) {
	got := buildVectors(t)
	if *update {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.MkdirAll(filepath.Dir(vectorsPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsPath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	var want []vector
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(got) {
		t.Fatalf("%d vectors on file, code builds %d", len(want), len(got))
	}
	// The code must rebuild every byte, and the stored bytes must verify.
	var org *Org
	var prev *User
	for i, w := range want {
		if w.Signet != got[i].Signet || w.Fingerprint != got[i].Fingerprint || w.Human != got[i].Human {
			t.Fatalf("vector %q: code builds different bytes", w.Name)
		}
		raw, _ := hex.DecodeString(w.Signet)
		if fp := FingerprintOf(raw); fp.String() != w.Fingerprint || fp.Human() != w.Human {
			t.Fatalf("vector %q: fingerprint mismatch", w.Name)
		}
		if i == 0 {
			if org, err = ParseOrg(raw); err != nil {
				t.Fatal(err)
			}
			if err := org.Verify(w.VerifyAt); err != nil {
				t.Fatal(err)
			}
			seed, _ := hex.DecodeString(w.Seeds["pok"])
			if !org.POK.Equal(ed25519.NewKeyFromSeed(seed).Public()) {
				t.Fatal("POK does not derive from its seed")
			}
			continue
		}
		u, err := ParseUser(raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := u.Verify(org, w.VerifyAt); err != nil {
			t.Fatalf("vector %q: %v", w.Name, err)
		}
		if prev != nil {
			if err := VerifyChain(prev, u); err != nil {
				t.Fatalf("vector %q: %v", w.Name, err)
			}
		}
		prev = u
	}
}
