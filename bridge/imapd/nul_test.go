package imapd

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"umbra/bridge/mailstore"
)

// TestNULNeverInALiteral: a message with NUL octets is served in BODY[]
// with 0x80 in their place (a literal cannot carry NUL, RFC 3501 §9) and
// exactly, as literal8, in BINARY[] (RFC 3516 §4.2). It used to go out
// in a plain literal, NULs and all.
func TestNULNeverInALiteral(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	raw := "Subject: nul\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\na\x00b\x00c\r\n"
	if _, _, err := e.store.Add(t.Context(), mailstore.NewMessage{Key: "nul", Mailbox: "INBOX", MIME: []byte(raw)}, mailstore.Remote); err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, e.addr)
	r.cmd("LOGIN " + testUser + ` "` + testPass + `"`)
	r.cmd("SELECT INBOX")
	fetch := func(items string) (head string, literal []byte) {
		t.Helper()
		fmt.Fprintf(r.conn, "f1 FETCH 1 (%s)\r\n", items)
		r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		head = r.line()
		var n int
		if i := strings.LastIndexByte(head, '{'); i < 0 {
			t.Fatalf("no literal in %q", head)
		} else if _, err := fmt.Sscanf(head[i:], "{%d}", &n); err != nil {
			t.Fatalf("%q: %v", head, err)
		}
		literal = make([]byte, n)
		if _, err := io.ReadFull(r.r, literal); err != nil {
			t.Fatal(err)
		}
		for !strings.HasPrefix(r.line(), "f1 ") {
		}
		return head, literal
	}
	head, body := fetch("BODY.PEEK[]")
	want := bytes.ReplaceAll([]byte(raw), []byte{0}, []byte{0x80})
	if strings.Contains(head, "~{") || !bytes.Equal(body, want) {
		t.Errorf("BODY[]: %q %q", head, body)
	}
	head, body = fetch("BINARY.PEEK[1]")
	if !strings.Contains(head, "BINARY[1] ~{") || !bytes.Equal(body, []byte("a\x00b\x00c\r\n")) {
		t.Errorf("BINARY[1]: %q %q", head, body)
	}
}
