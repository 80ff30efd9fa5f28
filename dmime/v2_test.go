package dmime

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"slices"
	"testing"

	"umbra/signet"
)

// TestV2Roles: a version 2 message opens for the recipient and the author
// with both signatures verified and the author's signet handed to the
// author-key function; the origin and the destination read their chunks
// and verify the origin signature, but the author signature is sealed
// from them: VerifyAuthor refuses, the origin's AuthorKey is never asked.
func TestV2Roles(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	mime := []byte(mimeCases()["mixed with attachment"])
	msg := w.sealWith(t, mime, w.paramsV2())

	var got *Carried
	for _, role := range []struct {
		r   Role
		key *actor
	}{{RoleRecipient, w.recip}, {RoleAuthor, w.author}} {
		var out bytes.Buffer
		opt := OpenOptions{MIME: &out, OriginKeys: []ed25519.PublicKey{w.origin.pub()},
			AuthorKey: func(addr string, fp signet.Fingerprint, carried *Carried) (ed25519.PublicKey, error) {
				got = carried
				return w.authorKeys(addr, fp, carried)
			}}
		if role.r == RoleRecipient {
			opt.Recipient = w.recip.addr
		}
		o, err := Open(bytes.NewReader(msg), role.r, role.key.enc, opt)
		if err != nil {
			t.Fatalf("%s: %v", role.r, err)
		}
		if !o.AuthorVerified || !o.OriginVerified || o.Layout.Version != 2 || !bytes.Equal(out.Bytes(), mime) {
			t.Fatalf("%s: author %v origin %v version %d", role.r, o.AuthorVerified, o.OriginVerified, o.Layout.Version)
		}
		if got == nil || !bytes.Equal(got.Signet, w.author.signet()) || o.Carried == nil || !bytes.Equal(o.Carried.Signet, w.author.signet()) {
			t.Fatalf("%s: the author-key function got %+v", role.r, got)
		}
	}

	asked := false
	o, err := Open(bytes.NewReader(msg), RoleOrigin, w.origin.enc, OpenOptions{
		AuthorKey: func(string, signet.Fingerprint, *Carried) (ed25519.PublicKey, error) {
			asked = true
			return w.author.pub(), nil
		}})
	if err != nil || asked || o.AuthorVerified || o.Carried != nil {
		t.Fatalf("origin: %v, asked %v, verified %v", err, asked, o != nil && o.AuthorVerified)
	}
	if oi, err := o.Origin(); err != nil || oi.Author != w.author.addr {
		t.Fatalf("origin chunk: %+v %v", oi, err)
	}
	if _, err := Open(bytes.NewReader(msg), RoleDestination, w.dest.enc, OpenOptions{OriginKeys: []ed25519.PublicKey{w.origin.pub()}}); err != nil {
		t.Fatalf("destination: %v", err)
	}
	if err := VerifyAuthor(bytes.NewReader(msg), w.author.pub()); !errors.Is(err, ErrNotPermitted) {
		t.Fatalf("VerifyAuthor of a version 2 message: %v", err)
	}
	if err := VerifyOrigin(bytes.NewReader(msg), w.origin.pub()); err != nil {
		t.Fatalf("VerifyOrigin: %v", err)
	}
}

// TestV2NothingOfTheAuthorInClear: what a provider holds of a version 2
// message — every byte — contains neither the author signature (Ed25519
// is deterministic, so it can be recomputed) nor the author's signet, so
// no one without the content key can test a candidate author's key.
func TestV2NothingOfTheAuthorInClear(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	msg := w.sealWith(t, []byte(simpleMIME), w.paramsV2())
	p, err := newParser(bytes.NewReader(msg), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.release()
	if err := p.drain(); err != nil {
		t.Fatal(err)
	}
	sig := ed25519.Sign(w.author.sign, authorMessage(version2, p.authorRoot))
	if bytes.Contains(msg, sig) || bytes.Contains(msg, w.author.signet()) {
		t.Fatal("the author signature or signet is in clear")
	}
	// Version 1 shows it: the check above can fail.
	v1 := w.seal(t, []byte(simpleMIME))
	q, _ := newParser(bytes.NewReader(v1), nil)
	defer q.release()
	q.drain()
	if !bytes.Contains(v1, ed25519.Sign(w.author.sign, authorMessage(version1, q.authorRoot))) {
		t.Fatal("version 1 does not show its signature: the test proves nothing")
	}
}

// TestV2SealRules: a seal from another message, a seal missing, a signet
// that is not the author's, and a version 1 signature chunk in a version 2
// message are refused.
func TestV2SealRules(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	m1 := w.sealWith(t, []byte(simpleMIME), w.paramsV2())
	m2 := w.sealWith(t, []byte(simpleMIME), w.paramsV2())
	s1, s2 := findSpan(t, m1, typeAuthorSeal, 0), findSpan(t, m2, typeAuthorSeal, 0)
	_, _, err := w.openRecipient(replace(m1, s1, m2[s2.off:s2.end]))
	wantErr(t, "another message's seal", err, ErrSegmentAuth)
	_, _, err = w.openRecipient(slices.Concat(m1[:s1.off], m1[s1.end:]))
	wantErr(t, "no seal", err, ErrChunkOrder)
	_, _, err = w.openRecipient(m1[:s1.off])
	wantErr(t, "cut before the seal", err, ErrTruncated)

	p := w.paramsV2()
	p.Carried = &Carried{Signet: []byte("some other signet")}
	if _, err := Seal(io.Discard, bytes.NewReader([]byte(simpleMIME)), p); !errors.Is(err, ErrInput) {
		t.Fatalf("sealing with a signet that is not the author's: %v", err)
	}

	// The version 1 signature chunk (list and signature) in a version 2
	// message: its length is wrong for the leaves.
	v1 := w.seal(t, []byte(simpleMIME))
	e1 := findSpan(t, v1, typeAuthorSignature, 0)
	l2 := findSpan(t, m1, typeAuthorSignature, 0)
	_, _, err = w.openRecipient(replace(m1, l2, v1[e1.off:e1.end]))
	if err == nil {
		t.Fatal("a version 1 signature chunk was accepted in a version 2 message")
	}
}

// TestCarriedFraming: what the author seal carries round-trips; items out
// of order, repeated, oversized, unknown or truncated are ErrMalformed.
func TestCarriedFraming(t *testing.T) {
	t.Parallel()
	sig := bytes.Repeat([]byte{7}, sigLen)
	c := &Carried{Signet: []byte("s"), Proof: []byte("p"), Checkpoints: [][]byte{[]byte("c1"), []byte("c2")}}
	gotSig, got, err := decodeCarried(c.encode(sig))
	if err != nil || !bytes.Equal(gotSig, sig) || !bytes.Equal(got.Signet, c.Signet) || !bytes.Equal(got.Proof, c.Proof) || len(got.Checkpoints) != 2 {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	item := func(t byte, v string) []byte { return append([]byte{t, 0, 0, byte(len(v))}, v...) }
	for name, pt := range map[string][]byte{
		"short":               sig[:10],
		"no signet":           slices.Clone(sig),
		"checkpoint first":    slices.Concat(sig, item(itemCheckpoint, "c"), item(itemSignet, "s")),
		"two signets":         slices.Concat(sig, item(itemSignet, "s"), item(itemSignet, "s")),
		"proof then cp":       slices.Concat(sig, item(itemSignet, "s"), item(itemProof, "p"), item(itemCheckpoint, "c")),
		"two proofs":          slices.Concat(sig, item(itemSignet, "s"), item(itemProof, "p"), item(itemProof, "p")),
		"unknown item":        slices.Concat(sig, item(itemSignet, "s"), item(0x09, "x")),
		"empty item":          slices.Concat(sig, item(itemSignet, "")),
		"truncated item":      slices.Concat(sig, item(itemSignet, "s")[:3]),
		"length past the end": slices.Concat(sig, []byte{itemSignet, 0, 0, 9, 's'}),
		"five checkpoints": slices.Concat(sig, item(itemSignet, "s"), item(itemCheckpoint, "c"), item(itemCheckpoint, "c"),
			item(itemCheckpoint, "c"), item(itemCheckpoint, "c"), item(itemCheckpoint, "c")),
	} {
		if _, _, err := decodeCarried(pt); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := (&Carried{Signet: []byte("s"), Checkpoints: make([][]byte, 5)}).check(); !errors.Is(err, ErrInput) {
		t.Errorf("sealing five checkpoints: %v", err)
	}
}

// FuzzDecodeCarried: no panic; what decodes re-encodes to the same bytes.
func FuzzDecodeCarried(f *testing.F) {
	sig := bytes.Repeat([]byte{7}, sigLen)
	f.Add((&Carried{Signet: []byte("s")}).encode(sig))
	f.Add((&Carried{Signet: []byte("signet"), Proof: []byte("proof"), Checkpoints: [][]byte{[]byte("a"), []byte("b")}}).encode(sig))
	f.Add(append(slices.Clone(sig), 0x02, 0, 0, 1, 'c'))
	f.Add((&Carried{Signet: []byte("s"), Chain: [][]byte{[]byte("p1"), []byte("p2")}, Checkpoints: [][]byte{[]byte("cp")}}).encode(sig))
	f.Fuzz(func(t *testing.T, pt []byte) {
		s, c, err := decodeCarried(pt)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error without ErrMalformed: %v", err)
			}
			return
		}
		if !bytes.Equal(c.encode(s), pt) {
			t.Fatalf("decoded %+v does not re-encode to the input", c)
		}
	})
}

// TestCarriedChain: earlier signets travel after the signet, newest
// first, and come back in order; more than MaxCarriedChain is refused
// when sealing; one after a checkpoint is malformed.
func TestCarriedChain(t *testing.T) {
	t.Parallel()
	sig := bytes.Repeat([]byte{9}, sigLen)
	c := &Carried{Signet: []byte("newest"), Chain: [][]byte{[]byte("before"), []byte("oldest")}, Checkpoints: [][]byte{[]byte("cp")}}
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	enc := c.encode(sig)
	if len(enc) != c.plainLen() {
		t.Fatalf("encoded %d bytes, plainLen %d", len(enc), c.plainLen())
	}
	_, got, err := decodeCarried(enc)
	if err != nil || len(got.Chain) != 2 || string(got.Chain[0]) != "before" || string(got.Chain[1]) != "oldest" || len(got.Checkpoints) != 1 {
		t.Fatalf("decoded %+v, %v", got, err)
	}
	long := &Carried{Signet: []byte("s"), Chain: make([][]byte, MaxCarriedChain+1)}
	for i := range long.Chain {
		long.Chain[i] = []byte("x")
	}
	if err := long.check(); !errors.Is(err, ErrInput) {
		t.Errorf("%d earlier signets: %v", len(long.Chain), err)
	}
	late := append(append(bytes.Clone(sig), itemSignet, 0, 0, 1, 's', itemCheckpoint, 0, 0, 1, 'c'), itemPrevious, 0, 0, 1, 'p')
	if _, _, err := decodeCarried(late); !errors.Is(err, ErrMalformed) {
		t.Errorf("an earlier signet after a checkpoint: %v", err)
	}
}
