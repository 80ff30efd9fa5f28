package store

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestMessageReader(t *testing.T) {
	t.Parallel()
	const text = "a message of 26 characters"
	for _, size := range []int64{0, -1, MaxDataSize + 1} {
		if _, err := NewMessageReader(strings.NewReader(text), size); !errors.Is(err, ErrInvalid) {
			t.Errorf("size %d: %v, want ErrInvalid", size, err)
		}
	}
	exact := map[string]io.Reader{
		"whole":             strings.NewReader(text),
		"EOF with the last": iotest.DataErrReader(strings.NewReader(text)),
		"one byte a read":   iotest.OneByteReader(strings.NewReader(text)),
	}
	for name, r := range exact {
		m, err := NewMessageReader(r, int64(len(text)))
		if err != nil {
			t.Fatal(err)
		}
		if b, err := m.ReadAll(); err != nil || string(b) != text || m.Err() != nil {
			t.Errorf("%s: ReadAll: %q, %v (Err %v)", name, b, err, m.Err())
		}
	}
	m, err := NewMessageReader(iotest.OneByteReader(strings.NewReader(text)), int64(len(text)))
	if err != nil {
		t.Fatal(err)
	}
	if err := iotest.TestReader(m, []byte(text)); err != nil { // reads of every size, and of none
		t.Error(err)
	}

	broken := errors.New("spool broken")
	for name, c := range map[string]struct {
		r    io.Reader
		want error
	}{
		"short":             {strings.NewReader(text[1:]), ErrInvalid},
		"long":              {strings.NewReader(text + "!"), ErrInvalid},
		"broken":            {io.MultiReader(strings.NewReader(text[:5]), iotest.ErrReader(broken)), broken},
		"broken at the end": {io.MultiReader(strings.NewReader(text), iotest.ErrReader(broken)), broken},
	} {
		m, err := NewMessageReader(c.r, int64(len(text)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.ReadAll(); !errors.Is(err, c.want) {
			t.Errorf("%s: ReadAll: %v, want %v", name, err, c.want)
		}
		// The failure stays: a consumer that reads on finds it again.
		if n, err := m.Read(make([]byte, 8)); n != 0 || !errors.Is(err, c.want) || m.Err() != err {
			t.Errorf("%s: Read after the failure: %d, %v (Err %v)", name, n, err, m.Err())
		}
	}
}

// TestDocumentReader: a document may be empty (from a reader that yields
// nothing, or none at all), not negative nor over MaxDataSize.
func TestDocumentReader(t *testing.T) {
	t.Parallel()
	for _, size := range []int64{-1, MaxDataSize + 1} {
		if _, err := NewDocumentReader(strings.NewReader(""), size); !errors.Is(err, ErrInvalid) {
			t.Errorf("size %d: %v, want ErrInvalid", size, err)
		}
	}
	for name, r := range map[string]io.Reader{"empty": strings.NewReader(""), "nil": nil} {
		m, err := NewDocumentReader(r, 0)
		if err != nil {
			t.Fatal(err)
		}
		if b, err := m.ReadAll(); err != nil || b == nil || len(b) != 0 {
			t.Errorf("%s: ReadAll: %q, %v", name, b, err)
		}
	}
	m, err := NewDocumentReader(strings.NewReader("x"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.ReadAll(); !errors.Is(err, ErrInvalid) {
		t.Errorf("a byte in an empty document: %v, want ErrInvalid", err)
	}
}
