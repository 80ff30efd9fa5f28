package dmime

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"testing"
)

func TestOriginRole(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	msg := w.seal(t, []byte(simpleMIME))
	o, err := Open(bytes.NewReader(msg), RoleOrigin, w.origin.enc, OpenOptions{AuthorKey: w.authorKeys})
	if err != nil {
		t.Fatal(err)
	}
	oi, err := o.Origin()
	if err != nil || oi.Author != w.author.addr || oi.DestinationDomain != w.dest.addr || !oi.DestinationFingerprint.Equal(w.dest.fp) {
		t.Fatalf("origin sees %+v, %v", oi, err)
	}
	if !o.AuthorVerified {
		t.Fatal("origin did not verify the author")
	}
	_, err = o.Destination()
	wantErr(t, "origin asks for the destination chunk", err, ErrNotPermitted)
	_, err = Open(bytes.NewReader(msg), RoleOrigin, w.origin.enc, OpenOptions{MIME: io.Discard})
	wantErr(t, "origin asks for the content", err, ErrNotPermitted)
}

func TestDestinationRole(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	msg := w.seal(t, []byte(simpleMIME))
	o, err := Open(bytes.NewReader(msg), RoleDestination, w.dest.enc, OpenOptions{OriginKeys: []ed25519.PublicKey{w.origin.pub()}})
	if err != nil {
		t.Fatal(err)
	}
	di, err := o.Destination()
	if err != nil || di.Recipient != w.recip.addr || di.OriginDomain != w.origin.addr || !di.RecipientFingerprint.Equal(w.recip.fp) {
		t.Fatalf("destination sees %+v, %v", di, err)
	}
	if !o.OriginVerified || o.AuthorVerified {
		t.Fatalf("verified origin=%v author=%v", o.OriginVerified, o.AuthorVerified)
	}
	_, err = o.Origin()
	wantErr(t, "destination asks for the origin chunk", err, ErrNotPermitted)
	_, err = Open(bytes.NewReader(msg), RoleDestination, w.dest.enc, OpenOptions{OriginKeys: []ed25519.PublicKey{w.origin.pub()}, MIME: io.Discard})
	wantErr(t, "destination asks for the content", err, ErrNotPermitted)
	_, err = Open(bytes.NewReader(msg), RoleDestination, w.dest.enc, OpenOptions{OriginKeys: []ed25519.PublicKey{w.origin.pub()}, AuthorKey: w.authorKeys})
	wantErr(t, "destination asks for the author", err, ErrNotPermitted)
	_, err = Open(bytes.NewReader(msg), RoleDestination, w.dest.enc, OpenOptions{})
	wantErr(t, "destination without the origin key", err, ErrInput)
}

func TestAuthorRoleReadsSentCopy(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	msg := w.seal(t, []byte(simpleMIME))
	var out bytes.Buffer
	o, err := Open(bytes.NewReader(msg), RoleAuthor, w.author.enc, OpenOptions{MIME: &out, AuthorKey: w.authorKeys})
	if err != nil || out.String() != simpleMIME || !o.AuthorVerified {
		t.Fatalf("author copy %q, %v", out.String(), err)
	}
}

// TestServerKeysCannotRead checks the separation at both levels: Open with
// a server key in a role it does not hold fails on the keyslot, and the
// keys a server's own keyslot yields do not decrypt what it may not read.
func TestServerKeysCannotRead(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	msg := w.seal(t, []byte(simpleMIME))
	if bytes.Contains(msg, []byte("lunch")) || bytes.Contains(msg, []byte("bob@b.test")) || bytes.Contains(msg, []byte("alice")) {
		t.Fatal("plaintext visible in the sealed message")
	}
	for _, c := range []struct {
		name string
		key  *actor
		role Role
		opt  OpenOptions
	}{
		{"origin key as destination", w.origin, RoleDestination, OpenOptions{OriginKeys: []ed25519.PublicKey{w.origin.pub()}}},
		{"origin key as recipient", w.origin, RoleRecipient, OpenOptions{MIME: io.Discard, AuthorKey: w.authorKeys, Recipient: w.recip.addr}},
		{"origin key as author", w.origin, RoleAuthor, OpenOptions{MIME: io.Discard, AuthorKey: w.authorKeys}},
		{"destination key as origin", w.dest, RoleOrigin, OpenOptions{}},
		{"destination key as recipient", w.dest, RoleRecipient, OpenOptions{MIME: io.Discard, AuthorKey: w.authorKeys, Recipient: w.recip.addr}},
		{"destination key as author", w.dest, RoleAuthor, OpenOptions{MIME: io.Discard, AuthorKey: w.authorKeys}},
	} {
		_, err := Open(bytes.NewReader(msg), c.role, c.key.enc, c.opt)
		wantErr(t, c.name, err, ErrKeyslot)
	}

	in, leaf0 := messageInfo(t, msg)
	serverKeys := func(a *actor, slot byte) *messageKeys {
		s := findSpan(t, msg, slot, 0)
		k, err := openKeyslot(a.enc, slot, msg[s.off+chunkHeaderLen:s.end], in, leaf0)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	tryOpen := func(name string, key []byte, typ byte, section int) {
		s := findSpan(t, msg, typ, 0)
		op, err := newSegmentOpener(typ, key)
		if err != nil {
			t.Fatal(err)
		}
		c := &chunk{section: section, last: true}
		copy(c.hdr[:], msg[s.off:])
		c.payload = msg[s.off+chunkHeaderLen : s.end]
		_, err = op.open(nil, c)
		wantErr(t, name, err, ErrSegmentAuth)
	}
	ok := serverKeys(w.origin, typeKeyslotOrigin)
	dk := serverKeys(w.dest, typeKeyslotDest)
	if ok.dest != [keyLen]byte{} || ok.content != [keyLen]byte{} || dk.origin != [keyLen]byte{} || dk.content != [keyLen]byte{} {
		t.Fatal("a server keyslot holds more than its own key")
	}
	// Every key a server holds, tried on every section it may not read.
	for _, k := range []struct {
		name string
		key  []byte
	}{{"origin key", ok.origin[:]}, {"destination key", dk.dest[:]}} {
		tryOpen(k.name+" on common headers (Subject)", k.key, typeCommonHeaders, 7)
		tryOpen(k.name+" on other headers", k.key, typeOtherHeaders, 8)
		tryOpen(k.name+" on body", k.key, typeDisplay, 9)
	}
	tryOpen("origin key on destination chunk", ok.origin[:], typeDestination, 6)
	tryOpen("destination key on origin chunk (author)", dk.dest[:], typeOrigin, 5)
}

// messageInfo returns the decoded info chunk and leaf 0 of msg.
func messageInfo(t testing.TB, msg []byte) (*info, []byte) {
	t.Helper()
	p, err := newParser(bytes.NewReader(msg), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.next(); err != nil {
		t.Fatal(err)
	}
	return p.info, p.leaf0
}

func TestWrongRecipient(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	msg := w.seal(t, []byte(simpleMIME))
	_, err := Open(bytes.NewReader(msg), RoleRecipient, w.recip.enc, OpenOptions{
		MIME: io.Discard, AuthorKey: w.authorKeys, Recipient: "someone@b.test",
	})
	wantErr(t, "recipient named differently", err, ErrWrongRecipient)
}

func TestOpenInputChecks(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	msg := w.seal(t, []byte(simpleMIME))
	x25519, err := newActorKEMless()
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		role Role
		opt  OpenOptions
		want error
	}{
		"no role":                   {0, OpenOptions{}, ErrInput},
		"recipient without MIME":    {RoleRecipient, OpenOptions{AuthorKey: w.authorKeys, Recipient: "bob@b.test"}, ErrInput},
		"recipient without author":  {RoleRecipient, OpenOptions{MIME: io.Discard, Recipient: "bob@b.test"}, ErrInput},
		"recipient without name":    {RoleRecipient, OpenOptions{MIME: io.Discard, AuthorKey: w.authorKeys}, ErrInput},
		"origin with recipient":     {RoleOrigin, OpenOptions{Recipient: "bob@b.test"}, ErrInput},
		"author without author key": {RoleAuthor, OpenOptions{MIME: io.Discard}, ErrInput},
	} {
		_, err := Open(bytes.NewReader(msg), c.role, w.recip.enc, c.opt)
		wantErr(t, name, err, c.want)
	}
	_, err = Open(bytes.NewReader(msg), RoleOrigin, x25519, OpenOptions{})
	wantErr(t, "key of another KEM", err, ErrInput)

	p := w.params()
	p.Recipient.Address = "bob b.test"
	_, err = Seal(io.Discard, bytes.NewReader([]byte(simpleMIME)), p)
	wantErr(t, "address with a space", err, ErrInput)
	p = w.params()
	p.AuthorKey = nil
	_, err = Seal(io.Discard, bytes.NewReader([]byte(simpleMIME)), p)
	wantErr(t, "no signing key", err, ErrInput)
}

// TestRecipientLooksOriginKeysUp: the recipient learns the origin domain
// inside the message, and OriginKeysOf verifies the origin signature in
// the same pass with the keys looked up for it.
func TestRecipientLooksOriginKeysUp(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	msg := w.seal(t, []byte(simpleMIME))
	open := func(lookup func(string) ([]ed25519.PublicKey, error)) (*Opened, error) {
		return Open(bytes.NewReader(msg), RoleRecipient, w.recip.enc, OpenOptions{
			MIME: io.Discard, AuthorKey: w.authorKeys, OriginKeysOf: lookup, Recipient: w.recip.addr,
		})
	}
	var asked []string
	o, err := open(func(domain string) ([]ed25519.PublicKey, error) {
		asked = append(asked, domain)
		return []ed25519.PublicKey{w.author.pub(), w.origin.pub()}, nil
	})
	if err != nil || !o.OriginVerified || !o.AuthorVerified {
		t.Fatalf("open: %v (origin verified %v)", err, o != nil && o.OriginVerified)
	}
	if len(asked) != 1 || asked[0] != w.origin.addr {
		t.Fatalf("looked up %q, want [%s]", asked, w.origin.addr)
	}
	_, err = open(func(string) ([]ed25519.PublicKey, error) { return []ed25519.PublicKey{w.dest.pub()}, nil })
	wantErr(t, "another organisation's key", err, ErrOriginSignature)
	_, err = open(func(string) ([]ed25519.PublicKey, error) { return nil, nil })
	wantErr(t, "no keys", err, ErrInput)
	lookupErr := errors.New("directory down")
	_, err = open(func(string) ([]ed25519.PublicKey, error) { return nil, lookupErr })
	if !errors.Is(err, lookupErr) {
		t.Fatalf("the look-up's error: got %v", err)
	}
	_, err = Open(bytes.NewReader(msg), RoleRecipient, w.recip.enc, OpenOptions{
		MIME: io.Discard, AuthorKey: w.authorKeys, Recipient: w.recip.addr,
		OriginKeys: []ed25519.PublicKey{w.origin.pub()}, OriginKeysOf: func(string) ([]ed25519.PublicKey, error) { return nil, nil },
	})
	wantErr(t, "both ways at once", err, ErrInput)
	_, err = Open(bytes.NewReader(msg), RoleDestination, w.dest.enc, OpenOptions{
		OriginKeysOf: func(string) ([]ed25519.PublicKey, error) { return nil, nil },
	})
	wantErr(t, "destination by look-up", err, ErrInput)
}
