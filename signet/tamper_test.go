package signet

import (
	"errors"
	"strings"
	"testing"
)

// verifyUser runs everything a receiver does with a user signet that
// succeeds prev: parse, Verify against the organisation, VerifyChain.
func verifyUser(b []byte, o testOrg, prev *User) error {
	u, err := ParseUser(b)
	if err != nil {
		return err
	}
	if err := u.Verify(o.org, now); err != nil {
		return err
	}
	return VerifyChain(prev, u)
}

// fieldAt names the field holding byte i of signet b, by the spec table,
// and whether the byte is in the field's data rather than its header.
func fieldAt(b []byte, i int, specs map[byte]fieldSpec) (string, bool) {
	if i < headerSize {
		return "header", false
	}
	for off := headerSize; off < len(b); {
		n := fieldHeaderSize + (int(b[off+1])<<8 | int(b[off+2]))
		if i < off+n {
			return specs[b[off]].name, i >= off+fieldHeaderSize
		}
		off += n
	}
	return "?", false
}

// Flipping any bit pattern into any byte of a user signet, header and
// every field and signature included, must make verification fail with a
// reason. Where the byte is a signature's, the reason names that signature.
func TestTamperEveryByteUser(t *testing.T) {
	t.Parallel()
	o := newTestOrg(t, "example.org")
	g0 := newTestUser(t, o, "alice@example.org", 0, nil, 0)
	g1 := newTestUser(t, o, "alice@example.org", 1, &g0, CustodyPrevious)
	good := g1.signet.Bytes()
	if err := verifyUser(good, o, g0.signet); err != nil {
		t.Fatal(err)
	}
	for i := range good {
		b := append([]byte(nil), good...)
		b[i] ^= 0x01
		err := verifyUser(b, o, g0.signet)
		var e *Error
		f, data := fieldAt(good, i, userSpecs)
		if err == nil || !errors.As(err, &e) || e.Field == "" {
			t.Fatalf("byte %d (%s) flipped: got %v, want a *Error", i, f, err)
		}
		// A flipped signature byte must be blamed on that signature, or for
		// the custody signature, on the self-signature that covers it and is
		// checked first.
		blame := e.Field
		if f == "custody-signature" && blame == "self-signature" {
			blame = f
		}
		if data && strings.HasSuffix(f, "-signature") && blame != f {
			t.Fatalf("byte %d of %s flipped: error names %q: %v", i, f, e.Field, err)
		}
	}
}

func TestTamperEveryByteOrg(t *testing.T) {
	t.Parallel()
	o := newTestOrg(t, "example.org")
	good := o.org.Bytes()
	for i := range good {
		b := append([]byte(nil), good...)
		b[i] ^= 0x80
		org, err := ParseOrg(b)
		if err == nil {
			err = org.Verify(now)
		}
		var e *Error
		if err == nil || !errors.As(err, &e) || e.Field == "" {
			f, _ := fieldAt(good, i, orgSpecs)
			t.Fatalf("byte %d (%s) flipped: got %v, want a *Error", i, f, err)
		}
	}
}

// Removing any field fails: required fields by name, optional ones by the
// signature that covered them.
func TestRemoveEachField(t *testing.T) {
	t.Parallel()
	o := newTestOrg(t, "example.org")
	g0 := newTestUser(t, o, "alice@example.org", 0, nil, 0)
	g1 := newTestUser(t, o, "alice@example.org", 1, &g0, CustodyPrevious)
	want := map[byte]string{userPrev: "custody-signature", userCustody: "custody-signature"}
	for id, spec := range userSpecs {
		err := verifyUser(withoutField(g1.signet.Bytes(), id), o, g0.signet)
		field := spec.name
		if w, ok := want[id]; ok {
			field = w
		}
		sigError(t, err, field)
	}
	wantOrg := map[byte]string{orgSOK: "org-signature", orgDMAP: "org-signature", orgTLSPin: "org-signature", orgLogKey: "org-signature"}
	for id, spec := range orgSpecs {
		org, err := ParseOrg(withoutField(o.org.Bytes(), id))
		if err == nil {
			err = org.Verify(now)
		}
		field := spec.name
		if w, ok := wantOrg[id]; ok {
			field = w
		}
		sigError(t, err, field)
	}
}
