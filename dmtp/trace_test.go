package dmtp

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"umbra/signet"
	"umbra/testlog"
	"umbra/wiretrace"
)

// traceLines is what a trace wrote to buf through a JSON handler (see
// traceLog): the messages of its "C: " and "S: " records, in order.
func traceLines(t *testing.T, buf *testlog.Buffer) []string {
	t.Helper()
	var lines []string
	for l := range strings.Lines(buf.String()) {
		var rec struct{ Msg string }
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if strings.HasPrefix(rec.Msg, "C: ") || strings.HasPrefix(rec.Msg, "S: ") {
			lines = append(lines, rec.Msg)
		}
	}
	return lines
}

// traceLog logs to buf from level up.
func traceLog(buf *testlog.Buffer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: level}))
}

// traceSession delivers body to b.test and fetches its organisation
// signet, with the client logging to log.
func traceSession(t *testing.T, addr string, log *slog.Logger, body string) {
	t.Helper()
	c, err := Dialer{Log: log}.Dial(context.Background(), addr, clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	steps := []func() error{
		func() error { return c.Hello("a.test") },
		func() error { return c.Mail("a.test", signet.Fingerprint{}) },
		func() error { return c.Rcpt("b.test", signet.Fingerprint{}) },
		func() error { return c.Data(strings.NewReader(body), int64(len(body))) },
		func() error { _, err := c.Signet("b.test", signet.Fingerprint{}); return err },
		c.Quit,
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
}

// The client's trace (issue 11) shows the conversation's lines as the
// server's trace does, DATA's body and the signet only by their size; at
// INFO the client logs nothing.
func TestClientTrace(t *testing.T) {
	t.Parallel()
	// The body and the signet hold lines a trace reading them as commands
	// or replies would show.
	const secret, sigMark = "zebra-quartz-7781", "signet-mark-5521"
	body := "Subject: " + secret + "\r\n\r\nRSET\r\n250 OK\r\n" + secret + "\r\n"
	sig := []byte("\x00" + sigMark + "\r\n250 OK\r\n")

	b := newTestBackend()
	b.signets["b.test"] = [][]byte{sig}
	var serverLog testlog.Buffer
	_, addr := startServer(t, b, func(s *Server) {
		s.Logger = traceLog(&serverLog, wiretrace.LevelTrace)
	})

	var clientLog testlog.Buffer
	traceSession(t, addr, traceLog(&clientLog, wiretrace.LevelTrace), body)
	if got := b.stored(); len(got) != 1 || string(got[0].body) != body {
		t.Fatalf("stored %d messages, want the one sent", len(got))
	}

	got := traceLines(t, &clientLog)
	for _, want := range []string{
		"S: 220 " + testHost,
		"C: EHLO a.test", "S: 250-" + testHost,
		"C: MAIL FROM:<a.test>", "C: RCPT TO:<b.test>",
		fmt.Sprintf("C: DATA %d", len(body)), "S: 354",
		fmt.Sprintf("C: <%d bytes of data>", len(body)),
		"S: 250 2.",
		"C: SGNT b.test", fmt.Sprintf("S: 250 SIGNET %d", len(sig)), fmt.Sprintf("S: <%d bytes of data>", len(sig)),
		"C: QUIT", "S: 221",
	} {
		if !slices.ContainsFunc(got, func(l string) bool { return strings.HasPrefix(l, want) }) {
			t.Errorf("client trace lacks %q:\n%s", want, strings.Join(got, "\n"))
		}
	}
	if all := clientLog.String(); strings.Contains(all, secret) || strings.Contains(all, "RSET") || strings.Contains(all, sigMark) {
		t.Errorf("client trace shows the body or the signet:\n%s", all)
	}
	// One conversation, two ends, the same lines: "C: " is what the client
	// wrote and the server read. The server logs what it wrote once the
	// write returns, which may be after the client has read it.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(serverLog.String(), "S: 221") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if server := traceLines(t, &serverLog); !slices.Equal(got, server) {
		t.Errorf("client trace\n%s\nserver trace\n%s", strings.Join(got, "\n"), strings.Join(server, "\n"))
	}

	var quiet testlog.Buffer
	traceSession(t, addr, traceLog(&quiet, slog.LevelInfo), body)
	if s := quiet.String(); s != "" {
		t.Errorf("client at INFO logged:\n%s", s)
	}
}
