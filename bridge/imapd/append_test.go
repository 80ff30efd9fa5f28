package imapd

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// testStamp is a Stamp like the bridge's: it drops X-Verdict fields and
// prepends its own.
func testStamp(b []byte) []byte {
	var out bytes.Buffer
	out.WriteString("X-Verdict: appended\r\n")
	head, body, _ := bytes.Cut(b, []byte("\r\n\r\n"))
	for _, l := range strings.SplitAfter(string(head), "\r\n") {
		if !strings.HasPrefix(strings.ToLower(l), "x-verdict:") {
			out.WriteString(l)
		}
	}
	out.WriteString("\r\n\r\n")
	out.Write(body)
	return out.Bytes()
}

// TestAppendStoresClientBytes: BODY[] and RFC822.SIZE of an APPENDed
// message are what the client appended (RFC 3501 §6.3.11); only a
// message carrying a field the stamp must replace is changed. The bridge
// used to prepend its header to every APPEND.
func TestAppendStoresClientBytes(t *testing.T) {
	t.Parallel()
	e := start(t, func(o *Options) { o.Stamp = testStamp })
	r := dialRaw(t, e.addr)
	r.cmd("LOGIN " + testUser + ` "` + testPass + `"`)
	plain := "From: a@a.test\r\nSubject: exact\r\n\r\nbody\r\n"
	forged := "X-Verdict: signed and verified\r\nSubject: forged\r\n\r\nbody\r\n"
	for _, m := range []string{plain, forged} {
		r.cmd(fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(m), m))
	}
	r.cmd("SELECT INBOX")
	got := strings.Join(r.cmd("FETCH 1 (RFC822.SIZE BODY.PEEK[])"), "\r\n")
	if !strings.Contains(got, fmt.Sprintf("RFC822.SIZE %d", len(plain))) || !strings.Contains(got, fmt.Sprintf("{%d}\r\n%s", len(plain), plain)) {
		t.Errorf("plain message came back as %q", got)
	}
	got = strings.Join(r.cmd("FETCH 2 (BODY.PEEK[HEADER])"), "\r\n")
	if strings.Contains(got, "signed and verified") || !strings.Contains(got, "X-Verdict: appended") {
		t.Errorf("forged verdict served: %q", got)
	}
}
