package dmime

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"testing/cryptotest"
	"time"
)

var update = flag.Bool("update", false, "rewrite the test vectors in testdata/dmime")

const vectorDir = "../testdata/dmime"

// vectorParty is one party of a test vector, with the inputs from which
// its keys are derived.
type vectorParty struct {
	Address     string `json:"address"`
	Fingerprint string `json:"fingerprint_hex"`
	HPKEIKM     string `json:"hpke_ikm_hex"` // MLKEM768-X25519 DeriveKeyPair input
	HPKEPublic  string `json:"hpke_public_hex"`
	Ed25519Seed string `json:"ed25519_seed_hex"`
}

type vectorSection struct {
	Index int    `json:"index"`
	Type  string `json:"type"`
	Key   string `json:"key_hex,omitempty"`
	Leaf  string `json:"leaf_hex"`
}

// vector is testdata/dmime/vector-1.json (spec §13).
type vector struct {
	Description      string                 `json:"description"`
	MIME             string                 `json:"mime_file"`
	Message          string                 `json:"message_file"`
	RandChaCha8Seed  string                 `json:"rand_chacha8_seed_hex"`
	GlobalRandomSeed uint64                 `json:"go_cryptotest_global_random_seed"`
	Parties          map[string]vectorParty `json:"parties"`
	MessageID        string                 `json:"message_id_hex"`
	OriginKey        string                 `json:"origin_key_hex"`
	DestinationKey   string                 `json:"destination_key_hex"`
	ContentKey       string                 `json:"content_key_hex"`
	Sections         []vectorSection        `json:"sections"`
	TreeRoot         string                 `json:"tree_root_hex"`
	SigChunkSHA256   string                 `json:"author_signature_chunk_sha256_hex,omitempty"` // v1
	// Version 2: the author's signet sealed with the signature, the seal's
	// key, the signature, and the content digest (SHA-256 of the section
	// list and author seal chunks).
	AuthorSignet  string `json:"author_signet_hex,omitempty"`
	AuthorSealKey string `json:"author_seal_key_hex,omitempty"`
	AuthorSig     string `json:"author_signature_hex,omitempty"`
	SealPlain     string `json:"author_seal_plaintext_hex,omitempty"`
	ContentDigest string `json:"content_digest_hex,omitempty"`
	Trace         Trace  `json:"trace"`
}

func vectorPartyOf(a *actor) vectorParty {
	seed := sha256.Sum256([]byte("umbra dmime test key " + a.addr))
	return vectorParty{
		Address:     a.addr,
		Fingerprint: hex.EncodeToString(a.fp[:]),
		HPKEIKM:     hex.EncodeToString(seed[:]),
		HPKEPublic:  hex.EncodeToString(a.enc.PublicKey().Bytes()),
		Ed25519Seed: hex.EncodeToString(seed[:]),
	}
}

// buildVector seals the vector's MIME with fixed randomness: the ChaCha8
// stream for Rand, and cryptotest's global source for HPKE.
func buildVector(t *testing.T, w *world, mime []byte, seed [32]byte, tr Trace, carried *Carried) []byte {
	cryptotest.SetGlobalRandom(t, 1)
	p := w.params()
	p.Rand = rand.NewChaCha8(seed)
	p.Carried = carried
	var sealed, signed, traced bytes.Buffer
	if _, err := Seal(&sealed, bytes.NewReader(mime), p); err != nil {
		t.Fatal(err)
	}
	if err := SignOrigin(&signed, &sealed, w.origin.sign); err != nil {
		t.Fatal(err)
	}
	if err := AppendTrace(&traced, &signed, tr); err != nil {
		t.Fatal(err)
	}
	return traced.Bytes()
}

// TestVectors rebuilds testdata/dmime/vector-1.dmime (format version 1)
// and vector-2.dmime (version 2) byte for byte, checks every intermediate
// value recorded in their JSON files, and opens the stored files. Run with
// -update to rewrite them (only after a deliberate format change; the
// spec must change with them).
//
// Not parallel: cryptotest.SetGlobalRandom changes the whole process.
func TestVectors(t *testing.T) {
	for _, version := range []int{1, 2} {
		t.Run(fmt.Sprintf("version%d", version), func(t *testing.T) { checkVector(t, version) })
	}
}

func checkVector(t *testing.T, version int) {
	w := newWorld(t)
	mime := []byte(mimeCases()["mixed with attachment"])
	seed := sha256.Sum256([]byte("umbra dmime vector 1"))
	tr := Trace{Time: time.Date(2026, 3, 2, 10, 0, 1, 0, time.UTC), Kind: TraceRelayed, Domain: "a.test"}
	var carried *Carried
	if version == 2 {
		// The signet's SHA-256 is the author's fingerprint here; the
		// proof and checkpoint are opaque bytes to D/MIME.
		carried = &Carried{Signet: w.author.signet(), Proof: []byte("inclusion proof"), Checkpoints: [][]byte{[]byte("checkpoint of a.test")}}
	}
	msg := buildVector(t, w, mime, seed, tr, carried)
	name := fmt.Sprintf("vector-%d", version)

	// Intermediate values, recomputed from the message with the
	// recipient's key.
	in, leaf0 := messageInfo(t, msg)
	ks := findSpan(t, msg, typeKeyslotRecip, 0)
	keys, err := openKeyslot(w.recip.enc, typeKeyslotRecip, msg[ks.off+chunkHeaderLen:ks.end], in, leaf0)
	if err != nil {
		t.Fatal(err)
	}
	p, err := newParser(bytes.NewReader(msg), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.drain(); err != nil {
		t.Fatal(err)
	}
	v := vector{
		Description: "One message from alice@a.test (origin a.test) to bob@b.test (destination b.test): " +
			"sealed, origin-signed, one trace. Party keys: HPKE MLKEM768-X25519 DeriveKeyPair(ikm); " +
			"Ed25519 seed = ikm. Rand: ChaCha8 (c2sp.org/chacha8rand) with the seed below gives the " +
			"message ID then the origin, destination and content keys; HPKE encapsulation randomness " +
			"comes from Go's testing/cryptotest.SetGlobalRandom, so keyslot chunks are reproducible " +
			"only by Go; everything else follows from the values listed.",
		MIME: name + ".mime", Message: name + ".dmime",
		RandChaCha8Seed:  hex.EncodeToString(seed[:]),
		GlobalRandomSeed: 1,
		Parties: map[string]vectorParty{
			"author": vectorPartyOf(w.author), "origin": vectorPartyOf(w.origin),
			"destination": vectorPartyOf(w.dest), "recipient": vectorPartyOf(w.recip),
		},
		MessageID:      in.id.String(),
		OriginKey:      hex.EncodeToString(keys.origin[:]),
		DestinationKey: hex.EncodeToString(keys.dest[:]),
		ContentKey:     hex.EncodeToString(keys.content[:]),
		TreeRoot:       hex.EncodeToString(p.authorRoot[:]),
		Trace:          tr,
	}
	if version == 1 {
		v.SigChunkSHA256 = hex.EncodeToString(p.sigSum[:])
	} else {
		sig, c, err := openAuthorSeal(&keys.content, len(p.leaves), p.seal)
		if err != nil {
			t.Fatal(err)
		}
		k, err := sectionKey(&keys.content, len(p.leaves), typeAuthorSeal)
		if err != nil {
			t.Fatal(err)
		}
		v.Description += " Format version 2: the author signature and what it carries (the author's signet, here " +
			"the bytes \"signet of alice@a.test\" whose SHA-256 is the author fingerprint, one checkpoint and a proof, " +
			"opaque to D/MIME) are in the author seal."
		v.AuthorSignet, v.AuthorSealKey = hex.EncodeToString(c.Signet), hex.EncodeToString(k)
		v.SealPlain = hex.EncodeToString(c.encode(sig))
		v.AuthorSig, v.ContentDigest = hex.EncodeToString(sig), hex.EncodeToString(p.sigSum[:])
	}
	for i, s := range p.sections {
		vs := vectorSection{Index: i, Type: "0x" + hex.EncodeToString([]byte{s.Type}), Leaf: hex.EncodeToString(p.leaves[i][:])}
		switch {
		case s.Type == typeOrigin:
			vs.Key = v.OriginKey
		case s.Type == typeDestination:
			vs.Key = v.DestinationKey
		case segmented(s.Type):
			k, err := sectionKey(&keys.content, i, s.Type)
			if err != nil {
				t.Fatal(err)
			}
			vs.Key = hex.EncodeToString(k)
		}
		v.Sections = append(v.Sections, vs)
	}
	js, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	js = append(js, '\n')

	files := map[string][]byte{name + ".mime": mime, name + ".dmime": msg, name + ".json": js}
	if *update {
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(vectorDir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(vectorDir, name))
		if err != nil {
			t.Fatalf("%v (run go test -run TestVectors -update to create)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the implementation produces now", name)
		}
	}

	// The stored message opens, independently of the rebuild.
	stored, err := os.ReadFile(filepath.Join(vectorDir, name+".dmime"))
	if err != nil {
		t.Fatal(err)
	}
	got, o, err := w.openRecipient(stored)
	if err != nil || !bytes.Equal(got, mime) {
		t.Fatalf("stored vector: %v", err)
	}
	if o.ID.String() != v.MessageID || len(o.Layout.Traces) != 1 || o.Layout.Version != version {
		t.Fatalf("stored vector: id %s, traces %v, version %d", o.ID, o.Layout.Traces, o.Layout.Version)
	}
	if version == 2 && (o.Carried == nil || !bytes.Equal(o.Carried.Signet, carried.Signet) || !bytes.Equal(o.Carried.Proof, carried.Proof) || len(o.Carried.Checkpoints) != 1) {
		t.Fatalf("stored vector: the seal carries %+v", o.Carried)
	}
}
