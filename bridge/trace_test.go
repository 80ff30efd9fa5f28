package bridge

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net/smtp"
	"strings"
	"testing"

	"umbra/ratelimit"
	"umbra/testlog"
	"umbra/wiretrace"
)

// At --log-level trace the SMTP submission logs each command and answer
// (wiretrace.SMTPSession), never the AUTH exchange: a wrong password and
// the right one both appear as "<redacted>", with their outcome.
func TestSubmissionTrace(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var log testlog.Buffer
	b := &Bridge{address: "alice@a.test", guard: ratelimit.NewGuard(ratelimit.DefaultGuardLimit, nil), ctx: ctx,
		log: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: wiretrace.LevelTrace}))}
	b.guard.MinDelay, b.guard.MaxDelay = 0, 0
	const right, wrong = "right-password-4711", "wrong-guess-0815"
	pw := right
	b.password.Store(&pw)
	addr := serveSubmission(t, b)

	for _, p := range []string{wrong, right} {
		c, err := smtp.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Auth(smtp.PlainAuth("", "alice@a.test", p, "127.0.0.1"))
		if (err == nil) != (p == right) {
			t.Fatalf("AUTH with %q: %v", p, err)
		}
		if err == nil {
			if err := c.Mail("alice@a.test"); err != nil {
				t.Fatal(err)
			}
		}
		c.Close()
	}
	got := log.String()
	for _, want := range []string{"C: AUTH PLAIN " + wiretrace.Redacted, "S: 535 5.7.8", "S: 235 authenticated", "C: MAIL FROM:<alice@a.test>", "S: 250 sender ok"} {
		if !strings.Contains(got, want) {
			t.Errorf("the trace has no %q:\n%s", want, got)
		}
	}
	for _, p := range []string{right, wrong} {
		for _, secret := range []string{p, base64.StdEncoding.EncodeToString([]byte("\x00alice@a.test\x00" + p))} {
			if strings.Contains(got, secret) {
				t.Errorf("the trace shows %q:\n%s", secret, got)
			}
		}
	}
}
