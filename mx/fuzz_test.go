package mx

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzHeader runs what the MX reads of a stranger's header (the From
// domain for DMARC, the end of the header, the removal of forged
// Authentication-Results) over arbitrary input: no panic, nothing added,
// and a field with our authserv-id never survives.
func FuzzHeader(f *testing.F) {
	for _, s := range []string{
		plainMsg,
		"From: a@b.example\r\n\r\nbody",
		"From: \"x, y\" <a@B.Example.>\r\nFrom: c@d\r\n\r\n",
		"Authentication-Results: b.test\r\n\tspf=pass\r\nX: y\r\n\r\n",
		"Authentication-Results:\r\n b.test; dkim=pass\r\n\r\n",
		"Authentication-Results: ;\r\n\r\n",
		"From: <@>\n\nbody",
		" folded first\r\nFrom: x@y\r\n\r\n",
		"no header at all",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		end := headerEnd(msg)
		if end < 0 {
			end = len(msg)
		}
		header := msg[:end]
		if d := fromDomain(header); strings.ContainsAny(d, "\r\n") {
			t.Fatalf("From domain %q spans lines", d)
		}
		var b bytes.Buffer
		dropOwnResults(&b, header, "b.test")
		if b.Len() > len(header) {
			t.Fatalf("dropOwnResults grew the header from %d to %d bytes", len(header), b.Len())
		}
		for _, fl := range fields(b.Bytes()) {
			if strings.EqualFold(fl.name, "Authentication-Results") {
				id, _, _ := strings.Cut(fl.value, ";")
				if f := strings.Fields(id); len(f) > 0 && strings.EqualFold(f[0], "b.test") {
					t.Fatalf("a result claiming b.test survived:\n%q", b.Bytes())
				}
			}
		}
	})
}
