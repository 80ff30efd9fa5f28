package keyfile

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"umbra/signet"
)

func TestRoundTripAndNoOverwrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, sk, _ := ed25519.GenerateKey(nil)
	ek, err := signet.KEM().GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	sp, ep := filepath.Join(dir, "s.key"), filepath.Join(dir, "e.key")
	if err := WriteSigning(sp, sk, map[string]string{"Role": "test"}); err != nil {
		t.Fatal(err)
	}
	if err := WriteEncryption(ep, ek, nil); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSigning(sp)
	if err != nil || !got.Equal(sk) {
		t.Fatalf("signing key: %v", err)
	}
	gotE, err := ReadEncryption(ep)
	if err != nil || !bytes.Equal(gotE.PublicKey().Bytes(), ek.PublicKey().Bytes()) {
		t.Fatalf("encryption key: %v", err)
	}
	if fi, _ := os.Stat(sp); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	before, _ := os.ReadFile(sp)
	_, other, _ := ed25519.GenerateKey(nil)
	if err := WriteSigning(sp, other, nil); err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("overwrite: %v", err)
	}
	if after, _ := os.ReadFile(sp); !bytes.Equal(before, after) {
		t.Fatal("key file changed")
	}
	// The wrong kind of file is refused by name.
	if _, err := ReadEncryption(sp); err == nil || !strings.Contains(err.Error(), TypeEncryption) {
		t.Fatalf("kind confusion: %v", err)
	}
}

func TestReadRejects(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	short := write("short.key", "-----BEGIN UMBRA ED25519 PRIVATE KEY-----\nAAAA\n-----END UMBRA ED25519 PRIVATE KEY-----\n")
	if _, err := ReadSigning(short); err == nil || !strings.Contains(err.Error(), "seed is 3 bytes") {
		t.Fatalf("short seed: %v", err)
	}
	if _, err := ReadSigning(write("none.key", "hello")); err == nil {
		t.Fatal("garbage accepted")
	}
	big := write("big.signet", strings.Repeat("x", maxFile+1))
	if _, err := ReadSignet(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("oversize: %v", err)
	}
	if _, err := ReadSignet(write("damaged.signet", "-----BEGIN UMBRA SIGNET-----\n!!!\n")); err == nil {
		t.Fatal("damaged PEM accepted")
	}
	if _, err := ReadSigning(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing file accepted")
	}
	raw := []byte{0x06, 0xf0, 0, 0, 0}
	if b, err := ReadSignet(write("raw.signet", string(raw))); err != nil || !bytes.Equal(b, raw) {
		t.Fatalf("raw signet: %v", err)
	}
}
