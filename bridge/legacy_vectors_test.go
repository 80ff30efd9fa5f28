package bridge

import (
	"encoding/json"
	"fmt"
	"os"
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
		if got := plainVerdict([]byte(c.Header+"body\r\n"), v.Domain); got != c.Verdict {
			t.Errorf("%s:\ngot  %q\nwant %q", c.Name, got, c.Verdict)
		}
	}
}

// plainVerdict is the verdict openLegacy stamps on mail that carries no
// OpenPGP: the trace's, or the provider's own notice's.
func plainVerdict(msg []byte, domain string) string {
	tr, ok := readTrace(msg, domain)
	if !ok {
		return fmt.Sprintf(verdictProvider, domain)
	}
	return legacyVerdict(tr, "")
}
