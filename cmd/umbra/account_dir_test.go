package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodAccountFile = `{"version": 1, "address": "alice@a.test", "server": "https://127.0.0.1:8443/dmap/v1/",
 "pin": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "mode": "paranoid", "device_id": "QWXBol_vItWrTLrD"}`

// The account file round-trips, and every broken form is refused with
// errAccountFile naming the problem.
func TestAccountInfoParse(t *testing.T) {
	t.Parallel()
	a, err := parseAccountInfo([]byte(goodAccountFile))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := writeAccountInfo(dir, a); err != nil {
		t.Fatal(err)
	}
	if b, err := readAccountInfo(dir); err != nil || *b != *a {
		t.Fatalf("round trip: %+v, %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, accountFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("account file mode: %v", err)
	}
	for _, tc := range []struct{ name, old, new, want string }{
		{"version", `"version": 1`, `"version": 2`, "version 2"},
		{"address", `"alice@a.test"`, `"alice"`, "address"},
		{"server", `"https://127.0.0.1:8443/dmap/v1/"`, `"http://127.0.0.1/"`, "not an https URL"},
		{"pin", `"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="`, `"AAAA"`, "TLS pin"},
		{"mode", `"paranoid"`, `"trustful"`, "mode"},
		{"device", `"QWXBol_vItWrTLrD"`, `"short"`, "device id"},
		{"device chars", `"QWXBol_vItWrTLrD"`, `"QWXBol/vItWrTLrD"`, "device id"},
		{"unknown", `"version": 1`, `"extra": 1, "version": 1`, "unknown field"},
		{"type", `"version": 1`, `"version": "1"`, "malformed"},
		{"trailing", `"QWXBol_vItWrTLrD"}`, `"QWXBol_vItWrTLrD"}{}`, "data after"},
		{"empty", goodAccountFile, ``, "malformed"},
	} {
		if !strings.Contains(goodAccountFile, tc.old) {
			t.Fatalf("%s: %q not in the good file", tc.name, tc.old)
		}
		_, err := parseAccountInfo([]byte(strings.Replace(goodAccountFile, tc.old, tc.new, 1)))
		if !errors.Is(err, errAccountFile) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := parseAccountInfo([]byte(strings.Repeat(" ", maxAccountFile+1))); !errors.Is(err, errAccountFile) {
		t.Errorf("oversize: %v", err)
	}
}

// FuzzAccountInfo: the account file parser never panics, and whatever it
// accepts writes back to a file it accepts again unchanged.
func FuzzAccountInfo(f *testing.F) {
	f.Add([]byte(goodAccountFile))
	f.Add([]byte(`{"version":1,"address":"a@b.test","server":"https://h/","pin":"","mode":"cautious","device_id":"AAAAAAAAAAAAAAAA"}`))
	f.Add([]byte(`{"version":1}{}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := parseAccountInfo(data)
		if err != nil {
			if !errors.Is(err, errAccountFile) {
				t.Fatalf("error without errAccountFile: %v", err)
			}
			return
		}
		dir := t.TempDir()
		if err := writeAccountInfo(dir, a); err != nil {
			t.Fatal(err)
		}
		b, err := readAccountInfo(dir)
		if err != nil || *b != *a {
			t.Fatalf("accepted %q but not its rewrite: %v", data, err)
		}
	})
}
