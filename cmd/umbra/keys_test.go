package main

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"umbra/dnsrec"
	"umbra/keyfile"
	"umbra/signet"
)

func TestKeysGenOrgAndInspect(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "org")
	code, out, errOut := umbra(t, "keys", "gen-org", "--domain", "example.org", "--out", dir, "--exp", "14")
	if code != 0 {
		t.Fatalf("gen-org: exit %d: %s", code, errOut)
	}
	for _, n := range []string{"pok.key", "sok.key", "enc.key"} {
		fi, err := os.Stat(filepath.Join(dir, n))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, mode %v", n, err, fi.Mode())
		}
	}
	raw, err := keyfile.ReadSignet(filepath.Join(dir, "org.signet"))
	if err != nil {
		t.Fatal(err)
	}
	org, err := signet.ParseOrg(raw)
	if err != nil {
		t.Fatal(err)
	}
	pok, err := keyfile.ReadSigning(filepath.Join(dir, "pok.key"))
	if err != nil || !org.POK.Equal(pok.Public()) {
		t.Fatalf("pok.key does not match the signet: %v", err)
	}
	if _, err := keyfile.ReadEncryption(filepath.Join(dir, "enc.key")); err != nil {
		t.Fatal(err)
	}

	// The printed record parses and names this signet.
	i := strings.Index(out, "_dime.example.org.")
	if i < 0 {
		t.Fatalf("no record printed:\n%s", out)
	}
	line := strings.SplitN(out[i:], "\n", 2)[0]
	var txt []string
	for _, q := range strings.Split(line, `"`)[1:] {
		if strings.TrimSpace(q) != "" {
			txt = append(txt, q)
		}
	}
	rec, err := dnsrec.Parse(txt)
	if err != nil {
		t.Fatalf("printed record %q: %v", line, err)
	}
	if rec.Fingerprint != org.Fingerprint() || !rec.POKs[0].Equal(org.POK) || rec.ExpDays != 14 || rec.DX != "example.org:26" {
		t.Fatalf("record does not match the signet: %+v", rec)
	}

	// A second run must not overwrite anything.
	if code, _, errOut := umbra(t, "keys", "gen-org", "--domain", "example.org", "--out", dir); code != 1 || !strings.Contains(errOut, "refusing to overwrite") {
		t.Fatalf("second gen-org: exit %d: %s", code, errOut)
	}

	code, out, _ = umbra(t, "keys", "inspect", filepath.Join(dir, "org.signet"))
	if code != 0 || !strings.Contains(out, "domain           example.org") || !strings.Contains(out, "verdict: VALID") || !strings.Contains(out, org.Fingerprint().Human()) {
		t.Fatalf("inspect: exit %d:\n%s", code, out)
	}

	// Tampered: one byte of the domain changed.
	bad := append([]byte(nil), raw...)
	i = strings.Index(string(bad), "example.org")
	bad[i] = 'f'
	p := filepath.Join(t.TempDir(), "bad.signet")
	if err := os.WriteFile(p, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = umbra(t, "keys", "inspect", p)
	if code != 1 || !strings.Contains(out, "verdict: INVALID: signet: org-signature") {
		t.Fatalf("tampered inspect: exit %d:\n%s", code, out)
	}
	// Not a signet at all.
	if err := os.WriteFile(p, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = umbra(t, "keys", "inspect", p)
	if code != 1 || !strings.Contains(out, "not a valid signet") {
		t.Fatalf("garbage inspect: exit %d:\n%s", code, out)
	}
}

// A user signet is inspected against its organisation and predecessor; a
// request is reported as uncertified.
func TestKeysInspectUser(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "org")
	if code, _, errOut := umbra(t, "keys", "gen-org", "--domain", "example.org", "--out", dir); code != 0 {
		t.Fatal(errOut)
	}
	raw, _ := keyfile.ReadSignet(filepath.Join(dir, "org.signet"))
	org, _ := signet.ParseOrg(raw)
	sok, err := keyfile.ReadSigning(filepath.Join(dir, "sok.key"))
	if err != nil {
		t.Fatal(err)
	}
	issue := func(name string, prev *signet.User, prevKey ed25519.PrivateKey) (*signet.User, ed25519.PrivateKey, string) {
		_, sk, _ := ed25519.GenerateKey(nil)
		_, rk, _ := ed25519.GenerateKey(nil)
		ek, _ := signet.KEM().GenerateKey()
		var succ *signet.Successor
		if prev != nil {
			succ = &signet.Successor{Prev: prev, Kind: signet.CustodyPrevious, Key: prevKey}
		}
		req, err := signet.NewRequest(signet.UserFields{SigningKey: sk.Public().(ed25519.PublicKey), Enc: ek.PublicKey(),
			RecoveryKey: rk.Public().(ed25519.PublicKey), Address: "alice@example.org",
			NotBefore: org.NotBefore, NotAfter: org.NotAfter}, sk, succ)
		if err != nil {
			t.Fatal(err)
		}
		u, err := signet.Certify(req, org, sok)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := keyfile.WriteSignet(p, u.Bytes(), nil); err != nil {
			t.Fatal(err)
		}
		if err := keyfile.WriteSignet(p+".req", req.Bytes(), nil); err != nil {
			t.Fatal(err)
		}
		return u, sk, p
	}
	u0, sk0, p0 := issue("a0.signet", nil, nil)
	_, _, p1 := issue("a1.signet", u0, sk0)
	orgFile := filepath.Join(dir, "org.signet")

	code, out, _ := umbra(t, "keys", "inspect", "--org", orgFile, "--prev", p0, p1)
	if code != 0 || !strings.Contains(out, "address          alice@example.org") || !strings.Contains(out, "chain: succeeds --prev correctly") || !strings.Contains(out, "verdict: VALID") {
		t.Fatalf("inspect user: exit %d\n%s", code, out)
	}
	code, out, _ = umbra(t, "keys", "inspect", p0)
	if code != 0 || !strings.Contains(out, "organisation signature not checked") {
		t.Fatalf("inspect without --org: exit %d\n%s", code, out)
	}
	code, out, _ = umbra(t, "keys", "inspect", "--org", orgFile, p0+".req")
	if code != 1 || !strings.Contains(out, "signing request") {
		t.Fatalf("inspect request: exit %d\n%s", code, out)
	}
	// p1 does not succeed itself: the chain check names the gap.
	code, out, _ = umbra(t, "keys", "inspect", "--org", orgFile, "--prev", p1, p1)
	if code != 1 || !strings.Contains(out, "signet: chain: gap") {
		t.Fatalf("inspect broken chain: exit %d\n%s", code, out)
	}
	code, out, _ = umbra(t, "keys", "inspect", "--org", orgFile, "--at", "2001-01-01T00:00:00Z", p0)
	if code != 1 || !strings.Contains(out, "validity") {
		t.Fatalf("inspect at old time: exit %d\n%s", code, out)
	}
}
