package provider

import (
	"bytes"
	"testing"

	"umbra/dmap"
	"umbra/vault"
)

func TestKeyBackupRoundTrip(t *testing.T) {
	t.Parallel()
	kb := dmap.KeyBackup{Vault: []byte("sealed vault"), AccessKey: bytes.Repeat([]byte{7}, 32), Salt: bytes.Repeat([]byte{1}, 16), Params: vault.DefaultParams()}
	b, err := encodeKeyBackup(kb)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeKeyBackup(b)
	if err != nil || !bytes.Equal(got.Vault, kb.Vault) || !bytes.Equal(got.Salt, kb.Salt) || !got.AccessKey.Equal(kb.AccessKey) || got.Params != kb.Params {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, bad := range [][]byte{nil, []byte("UKB1"), b[:len(b)-len(kb.Vault)], append([]byte("XKB1"), b[4:]...)} {
		if _, err := decodeKeyBackup(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := encodeKeyBackup(dmap.KeyBackup{}); err == nil {
		t.Error("empty backup encoded")
	}
}

// FuzzDecodeKeyBackup: a stored blob, whatever its bytes, decodes or
// fails without panicking, and what decodes encodes back to the same bytes.
func FuzzDecodeKeyBackup(f *testing.F) {
	b, _ := encodeKeyBackup(dmap.KeyBackup{Vault: []byte("v"), AccessKey: make([]byte, 32), Salt: []byte("salt"), Params: vault.DefaultParams()})
	f.Add(b)
	f.Add([]byte("UKB1"))
	f.Fuzz(func(t *testing.T, in []byte) {
		kb, err := decodeKeyBackup(in)
		if err != nil {
			return
		}
		out, err := encodeKeyBackup(kb)
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}
