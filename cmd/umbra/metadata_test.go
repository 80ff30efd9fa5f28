package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"umbra/signet"
	"umbra/testlog"
	"umbra/wiretrace"
)

// TestWhoLearnsWhat is DESIGN §2 as a test: alice@a.test and bob@b.test
// write to each other (first contact, a reply, and again after both
// bridges restart), while each provider logs every DMAP request (method,
// path and query) and every DMTP command line it receives at debug level,
// and its wire trace. Then a.test has never seen bob's address or fingerprint, and
// b.test never alice's, in any request, log line or stored byte: the
// bridges look other domains' keys up through tunnels (docs/spec/dmap.md
// §9.3), which their providers cannot read.
func TestWhoLearnsWhat(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	logs := map[string]*testlog.Buffer{}
	p := startPair(t, func(domain string) *slog.Logger {
		logs[domain] = &testlog.Buffer{}
		return slog.New(slog.NewTextHandler(logs[domain], &slog.HandlerOptions{Level: wiretrace.LevelTrace}))
	})
	users, nodes, bridges := pairUsers, p.nodes, p.bridges
	send := func(from, to, subject string) {
		t.Helper()
		msg := fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%d@%s>\r\n\r\nhello\r\n",
			from, to, subject, time.Now().UnixNano(), signet.DomainOf(from))
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := bridges[from].b.Submit(sctx, []string{to}, []byte(msg)); err != nil {
			t.Fatalf("%s to %s: %v", from, to, err)
		}
		waitMailbox(t, bridges[to].b.Store(), "INBOX", subject)
	}
	send("alice@a.test", "bob@b.test", "first contact")
	send("bob@b.test", "alice@a.test", "Re: first contact")
	for _, a := range users {
		p.start(a)
	}
	send("alice@a.test", "bob@b.test", "after a restart")
	send("bob@b.test", "alice@a.test", "Re: after a restart")
	for _, a := range users {
		p.stop(a)
	}

	// What each must never learn: the other side's address and the
	// fingerprints of its signets, in every form they travel in.
	secrets := map[string][]string{}
	for _, address := range users {
		domain := signet.DomainOf(address)
		rec, err := nodes[domain].Provider.Store().Signets().Current(ctx, address)
		if err != nil {
			t.Fatal(err)
		}
		fp := rec.Fingerprint
		secrets[address] = []string{address, url.QueryEscape(address), fp.String(), hex.EncodeToString(fp[:]), string(fp[:])}
	}
	for _, c := range []struct{ domain, other string }{{"a.test", "bob@b.test"}, {"b.test", "alice@a.test"}} {
		log := logs[c.domain].String()
		// The log is a record of every request: without these lines the
		// absence checks below would prove nothing.
		for _, want := range []string{"dmap: request", "path=/dmap/v1/changes", "dmtp: command",
			// The wire trace (issue 11) is in it too: its lines of DMTP and
			// DMAP carry no more than the debug lines (the absence checks
			// below), no mail and no token.
			`"C: GET /dmap/v1/changes`, "Authorization: Bearer " + wiretrace.Redacted, `"C: DATA `, "bytes of data>"} {
			if !strings.Contains(log, want) {
				t.Fatalf("%s's trace log has no %q: the test does not see what the provider receives", c.domain, want)
			}
		}
		if m := regexp.MustCompile(`Bearer [^<]`).FindString(log); m != "" {
			t.Errorf("%s's trace shows a bearer token", c.domain)
		}
		for _, subject := range []string{"first contact", "after a restart"} {
			if strings.Contains(log, subject) {
				t.Errorf("%s's log shows the subject %q", c.domain, subject)
			}
		}
		for _, s := range secrets[c.other] {
			if i := strings.Index(log, s); i >= 0 {
				line := log[strings.LastIndexByte(log[:i], '\n')+1:]
				line, _, _ = strings.Cut(line, "\n")
				t.Errorf("%s learnt %s from a request or log line: %s", c.domain, c.other, line)
			}
		}
		if !strings.Contains(log, "dmap: tunnel closed") {
			t.Errorf("%s carried no look-up tunnel", c.domain)
		}
	}
	for _, domain := range []string{"a.test", "b.test"} {
		nodes[domain].Stop()
	}
	for _, c := range []struct{ domain, other string }{{"a.test", "bob@b.test"}, {"b.test", "alice@a.test"}} {
		scanFor(t, nodes[c.domain].Dir, c.domain, secrets[c.other]...)
	}
}

// scanFor fails if any file under dir holds any of secrets.
func scanFor(t *testing.T, dir, who string, secrets ...string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s stores %q in %s", who, s, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
