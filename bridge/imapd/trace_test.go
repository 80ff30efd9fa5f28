package imapd

import (
	"encoding/base64"
	"log/slog"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"umbra/testlog"
	"umbra/wiretrace"
)

// At --log-level trace the server logs each conversation's lines (issue
// 11: a wire trace level that hides secrets): the LOGIN's password, the
// literal of an APPEND and the message a FETCH returns appear in the log
// only as "<redacted>" and as their sizes.
func TestWireTrace(t *testing.T) {
	t.Parallel()
	var log testlog.Buffer
	e := start(t, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: wiretrace.LevelTrace}))
	})
	const subject, body = "Lighthouse keys for the weekend", "They are under the third stone."
	c := e.login(t, nil)
	appendMsg(t, c, "INBOX", mimeMsg(subject, body), nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("fetch: %v %v", msgs, err)
	}
	if err := c.Logout().Wait(); err != nil {
		t.Fatal(err)
	}
	got := log.String()
	for _, want := range []string{"LOGIN " + wiretrace.Redacted, "APPEND INBOX", "bytes of data>", "S: * 1 FETCH", "C: ", "S: "} {
		if !strings.Contains(got, want) {
			t.Errorf("the trace has no %q:\n%s", want, got)
		}
	}
	for _, secret := range []string{testPass, strings.Fields(testPass)[1], base64.StdEncoding.EncodeToString([]byte(testPass)), subject, body} {
		if strings.Contains(got, secret) {
			t.Errorf("the trace shows %q:\n%s", secret, got)
		}
	}
}
