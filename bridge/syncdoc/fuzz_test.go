package syncdoc

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// Every parser of provider-supplied bytes is fuzzed (DESIGN §3). A parse
// that succeeds must be canonical: marshalling the result gives back
// exactly the input.

func FuzzParseContent(f *testing.F) {
	f.Add(mustMarshal(f, sampleContent(nil)))
	f.Add(mustMarshal(f, sampleContent([]byte("Subject: hi\r\n\r\nbody\r\n"))))
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add(append(mustMarshal(f, sampleContent(nil)), 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseContent(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrVersion) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if again := mustMarshal(t, c); !bytes.Equal(again, b) {
			t.Fatalf("not canonical:\n in %x\nout %x", b, again)
		}
	})
}

func FuzzParseMeta(f *testing.F) {
	f.Add(mustMarshal(f, sampleMeta()))
	f.Add(mustMarshal(f, &Meta{Key: testKey, Deleted: true}))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMeta(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrVersion) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if again := mustMarshal(t, m); !bytes.Equal(again, b) {
			t.Fatalf("not canonical:\n in %x\nout %x", b, again)
		}
	})
}

func FuzzParseFolders(f *testing.F) {
	f.Add(mustMarshal(f, sampleFolders()))
	f.Add(mustMarshal(f, &Folders{}))
	f.Add([]byte{1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		fs, err := ParseFolders(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrVersion) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if again := mustMarshal(t, fs); !bytes.Equal(again, b) {
			t.Fatalf("not canonical:\n in %x\nout %x", b, again)
		}
	})
}

// FuzzOpen feeds arbitrary bytes, ids, kinds and revisions to Open. Only
// the exact seeds may open; anything else must fail with a classified
// error and never panic.
func FuzzOpen(f *testing.F) {
	s := testSealer(f, 9)
	// Fixed nonces, so the seeds are the same bytes in every fuzz worker
	// process (each one runs this set-up again). Three documents of three
	// ids use three different keys, so the zero nonces never repeat under one.
	s.rand = bytes.NewReader(make([]byte, 3*nonceLen))
	valid := map[string]bool{}
	add := func(id, kind string, rev int64, pt []byte) {
		sealed, err := s.Seal(id, kind, rev, pt)
		if err != nil {
			f.Fatal(err)
		}
		valid[fmt.Sprintf("%x/%s/%s/%d", sealed, id, kind, rev)] = true
		f.Add(sealed, id, kind, rev)
	}
	add(MetaID(testKey), KindMeta, 1, mustMarshal(f, sampleMeta()))
	add(ContentID(testKey), KindContent, 2, mustMarshal(f, sampleContent([]byte("x"))))
	add(FoldersID, KindFolders, 3, nil)
	f.Add([]byte{}, "c-x", KindContent, int64(1))
	f.Add(make([]byte, minSealed), "c-x", KindContent, int64(0))
	f.Fuzz(func(t *testing.T, b []byte, id, kind string, rev int64) {
		pt, err := s.Open(id, kind, rev, b)
		if err == nil {
			if !valid[fmt.Sprintf("%x/%s/%s/%d", b, id, kind, rev)] {
				t.Fatalf("forged document opened: %x as %s/%s/%d → %x", b, id, kind, rev, pt)
			}
			return
		}
		for _, e := range []error{ErrAuth, ErrVersion, ErrMalformed, ErrInvalid} {
			if errors.Is(err, e) {
				return
			}
		}
		t.Fatalf("unclassified error: %v", err)
	})
}
