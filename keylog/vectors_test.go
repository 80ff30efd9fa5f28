package keylog

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestVectors checks tree hashes and checkpoint bodies against
// testdata/keylog/vectors.json, made independently by gen_vectors.py
// (docs/spec/keylog.md §6), and that every bad checkpoint is refused as
// malformed.
func TestVectors(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../testdata/keylog/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		RecordFormat string `json:"record_format"`
		Trees        []struct {
			Size       int64
			Root       string
			Checkpoint string
		}
		BadCheckpoints []struct{ Name, Text, Error string } `json:"bad_checkpoints"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l := newTestLog(t, "a.test", testKey())
	for _, tr := range v.Trees {
		for n, _ := l.st.Size(ctx); n < tr.Size; n++ {
			if _, err := l.Append(ctx, []byte(strings.Replace(v.RecordFormat, "<i>", itoa(n), 1))); err != nil {
				t.Fatal(err)
			}
		}
		c, _, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(c.Text()) != tr.Checkpoint {
			t.Errorf("tree of %d: checkpoint\n%q\nwant\n%q", tr.Size, c.Text(), tr.Checkpoint)
		}
		if p, err := ParseText([]byte(tr.Checkpoint)); err != nil || p != c {
			t.Errorf("tree of %d: parse %+v %v", tr.Size, p, err)
		}
	}
	if len(v.BadCheckpoints) == 0 {
		t.Fatal("no negative vectors")
	}
	for _, b := range v.BadCheckpoints {
		if b.Error != "malformed_checkpoint" {
			t.Fatalf("%s: unknown error class %q", b.Name, b.Error)
		}
		if _, err := ParseText([]byte(b.Text)); !errors.Is(err, ErrCheckpoint) {
			t.Errorf("%s: %v, want a malformed checkpoint", b.Name, err)
		}
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
