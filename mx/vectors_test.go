package mx

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// TestHeaderVectors checks the removal of forged results against
// testdata/legacy/mx-headers.json (docs/spec/legacy.md §6).
func TestHeaderVectors(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../testdata/legacy/mx-headers.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		AuthServID string `json:"authserv_id"`
		Cases      []struct{ Name, In, Out string }
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range v.Cases {
		var b bytes.Buffer
		dropOwnResults(&b, []byte(c.In), v.AuthServID)
		if b.String() != c.Out {
			t.Errorf("%s:\ngot  %q\nwant %q", c.Name, b.String(), c.Out)
		}
	}
}
