package dmap

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"umbra/vault"
)

// vectorsFile is made by testdata/dmap/gen_vectors.py, an independent
// Python implementation of the spec's byte layouts (spec §12).
const vectorsFile = "../testdata/dmap/vectors.json"

type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	d, err := hex.DecodeString(s)
	*h = d
	return err
}

type proofVector struct {
	Challenge  hexBytes `json:"challenge"`
	Domain     string   `json:"domain"`
	Address    string   `json:"address"`
	Key        hexBytes `json:"key"`
	SignerSeed hexBytes `json:"signer_seed"`
	Message    hexBytes `json:"message"`
	Signature  hexBytes `json:"signature"`
}

type vectors struct {
	Login     proofVector `json:"login"`
	Enroll    proofVector `json:"enroll"`
	KeyBackup struct {
		Password   string     `json:"password"`
		Address    string     `json:"address"`
		Domain     string     `json:"domain"`
		Salt       hexBytes   `json:"salt"`
		Params     paramsWire `json:"params"`
		AccessSeed hexBytes   `json:"access_seed"`
		AccessKey  hexBytes   `json:"access_key"`
		Challenge  hexBytes   `json:"challenge"`
		Message    hexBytes   `json:"message"`
		Signature  hexBytes   `json:"signature"`
	} `json:"key_backup"`
	Tokens []struct {
		Raw         hexBytes `json:"raw"`
		Wire        string   `json:"wire"`
		AccessHash  hexBytes `json:"access_hash"`
		RefreshHash hexBytes `json:"refresh_hash"`
	} `json:"tokens"`
	DeviceID struct {
		Key hexBytes `json:"key"`
		ID  string   `json:"id"`
	} `json:"device_id"`
	DecoySalt struct {
		Key     hexBytes `json:"key"`
		Address string   `json:"address"`
		Salt    hexBytes `json:"salt"`
	} `json:"decoy_salt"`
	HistoryFrames struct {
		Signets []hexBytes `json:"signets"`
		Body    hexBytes   `json:"body"`
	} `json:"history_frames"`
}

func loadVectors(t *testing.T) *vectors {
	data, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

// checkProof: the Go message builder gives the vector's bytes, and the
// signature by the signer's seed is the vector's (Ed25519 is
// deterministic) and verifies.
func checkProof(t *testing.T, name string, v proofVector, build func([32]byte, string, string, ed25519.PublicKey) []byte) {
	t.Helper()
	msg := build([32]byte(v.Challenge), v.Domain, v.Address, ed25519.PublicKey(v.Key))
	if !bytes.Equal(msg, v.Message) {
		t.Fatalf("%s message:\n got %x\nwant %x", name, msg, []byte(v.Message))
	}
	k := ed25519.NewKeyFromSeed(v.SignerSeed)
	if sig := ed25519.Sign(k, msg); !bytes.Equal(sig, v.Signature) || !ed25519.Verify(pubOf(k), msg, v.Signature) {
		t.Fatalf("%s signature differs or does not verify", name)
	}
}

func TestVectors(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	checkProof(t, "login", v.Login, LoginMessage)
	checkProof(t, "enroll", v.Enroll, EnrollMessage)

	kb := v.KeyBackup
	p := vault.Params{Time: kb.Params.Time, MemoryKiB: kb.Params.MemoryKiB, Threads: kb.Params.Threads}
	k, err := BackupAccessKey([]byte(kb.Password), kb.Address, kb.Salt, p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k.Seed(), kb.AccessSeed) || !bytes.Equal(pubOf(k), kb.AccessKey) {
		t.Fatalf("backup access key: seed %x, want %x", k.Seed(), []byte(kb.AccessSeed))
	}
	checkProof(t, "key backup", proofVector{
		Challenge: kb.Challenge, Domain: kb.Domain, Address: kb.Address, Key: kb.AccessKey,
		SignerSeed: kb.AccessSeed, Message: kb.Message, Signature: kb.Signature,
	}, KeyBackupMessage)

	for _, tok := range v.Tokens {
		if b64.EncodeToString(tok.Raw) != tok.Wire {
			t.Fatalf("token wire form %q", tok.Wire)
		}
		if h := AccessTokenHash(tok.Raw); !bytes.Equal(h[:], tok.AccessHash) {
			t.Fatalf("access token hash %x", h)
		}
		if h := RefreshTokenHash(tok.Raw); !bytes.Equal(h[:], tok.RefreshHash) {
			t.Fatalf("refresh token hash %x", h)
		}
	}
	if id := DeviceID(ed25519.PublicKey(v.DeviceID.Key)); id != v.DeviceID.ID {
		t.Fatalf("device id %q, want %q", id, v.DeviceID.ID)
	}

	h, err := Handler(newFakeBackend(nil, nil), Options{Domain: testDomain, DecoyKey: v.DecoySalt.Key})
	if err != nil {
		t.Fatal(err)
	}
	if s := h.(*handler).decoySalt(v.DecoySalt.Address); !bytes.Equal(s, v.DecoySalt.Salt) {
		t.Fatalf("decoy salt %x, want %x", s, []byte(v.DecoySalt.Salt))
	}

	var list [][]byte
	for _, s := range v.HistoryFrames.Signets {
		list = append(list, s)
	}
	if body := encodeFrames(list); !bytes.Equal(body, v.HistoryFrames.Body) {
		t.Fatalf("history frames %x", body)
	}
	back, err := decodeFrames(v.HistoryFrames.Body)
	if err != nil || len(back) != len(list) || !bytes.Equal(back[1], list[1]) {
		t.Fatalf("history frames decode: %d, %v", len(back), err)
	}
}
