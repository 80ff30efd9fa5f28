package dnsrec

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary TXT strings to Parse (the input is split into
// character-strings at NUL bytes, which no valid record contains). Parse
// must never panic, and whatever it accepts must format to strings that
// parse back to the same Record.
func FuzzParse(f *testing.F) {
	v := loadVectors(f)
	for _, c := range v.Valid {
		f.Add(strings.Join(c.TXT, "\x00"))
	}
	for _, c := range v.Invalid {
		f.Add(strings.Join(c.TXT, "\x00"))
	}
	f.Fuzz(func(t *testing.T, in string) {
		r, err := Parse(strings.Split(in, "\x00"))
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("error %v is a %T, not a *ParseError", err, err)
			}
			return
		}
		txt := r.TXT()
		for _, s := range txt {
			if len(s) > MaxStringLen {
				t.Fatalf("TXT() string of %d bytes", len(s))
			}
		}
		if !IsCandidate(txt) {
			t.Fatalf("TXT() %q is not a candidate", txt)
		}
		r2, err := Parse(txt)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", txt, err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("re-parse changed the record:\n%+v\n%+v", r, r2)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	v := loadVectors(b)
	for _, name := range []string{"minimal", "every-field-any-order", "long-record"} {
		var txt []string
		for _, c := range v.Valid {
			if c.Name == name {
				txt = c.TXT
			}
		}
		if txt == nil {
			b.Fatalf("no vector %q", name)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(strings.Join(txt, ""))))
			for b.Loop() {
				if _, err := Parse(txt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
