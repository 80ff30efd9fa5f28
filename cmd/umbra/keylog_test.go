package main

import (
	"regexp"
	"strings"
	"testing"

	"umbra/keylog"
)

// TestServerLog: the signet a registration certified is in the domain's
// log, and `server log` shows a checkpoint that opens with the printed
// verifier key and names that signet.
func TestServerLog(t *testing.T) {
	t.Parallel()
	dir, _ := initProvider(t)
	code, out, errOut := umbra(t, "server", "log", "--dir", dir)
	if code != 0 || !strings.Contains(out, "records       0\n") {
		t.Fatalf("empty log: exit %d: %s%s", code, out, errOut)
	}
	redeem(t, dir, "alice@example.test", addUser(t, dir, "alice@example.test"))
	code, out, errOut = umbra(t, "server", "log", "--dir", dir)
	if code != 0 {
		t.Fatalf("server log: exit %d: %s", code, errOut)
	}
	vkey := regexp.MustCompile(`(?m)^verifier key  (\S+)$`).FindStringSubmatch(out)
	note := regexp.MustCompile(`(?s)(umbra-keylog/example\.test\n1\n\S+\n\n— .*?\n)\n`).FindStringSubmatch(out)
	if vkey == nil || note == nil {
		t.Fatalf("output:\n%s", out)
	}
	cp, err := keylog.Open([]byte(note[1]), "example.test", vkey[1])
	if err != nil || cp.Size != 1 {
		t.Fatalf("checkpoint %+v: %v\n%s", cp, err, out)
	}
	if !regexp.MustCompile(`(?m)^0 +alice@example\.test +\S{43}$`).MatchString(out) {
		t.Fatalf("records:\n%s", out)
	}
}
