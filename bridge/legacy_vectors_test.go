package bridge

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestLegacyVerdictVectors checks legacyVerdict against
// testdata/legacy/verdicts.json (docs/spec/legacy.md §6).
func TestLegacyVerdictVectors(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../testdata/legacy/verdicts.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Domain string
		Cases  []struct{ Name, Header, Verdict string }
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range v.Cases {
		if got := legacyVerdict([]byte(c.Header+"body\r\n"), v.Domain); got != c.Verdict {
			t.Errorf("%s:\ngot  %q\nwant %q", c.Name, got, c.Verdict)
		}
	}
}

// FuzzLegacyVerdict: whatever header the MX's message carries, the
// verdict is one line that names the provider and never panics.
func FuzzLegacyVerdict(f *testing.F) {
	data, err := os.ReadFile("../testdata/legacy/verdicts.json")
	if err != nil {
		f.Fatal(err)
	}
	var v struct{ Cases []struct{ Header string } }
	if err := json.Unmarshal(data, &v); err != nil {
		f.Fatal(err)
	}
	for _, c := range v.Cases {
		f.Add([]byte(c.Header))
	}
	f.Fuzz(func(t *testing.T, mime []byte) {
		got := legacyVerdict(mime, "b.test")
		if strings.ContainsAny(got, "\r\n") || !strings.Contains(got, "b.test") {
			t.Fatalf("verdict %q", got)
		}
	})
}
