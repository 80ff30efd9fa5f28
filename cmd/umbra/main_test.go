package main

import (
	"bytes"
	"strings"
	"testing"
)

// umbra runs the CLI in-process and returns exit code, stdout and stderr.
func umbra(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// Every verb answers -h with its usage and help text, and exits 0.
func TestEveryVerbHasHelp(t *testing.T) {
	t.Parallel()
	if len(verbs) == 0 {
		t.Fatal("no verbs registered")
	}
	for _, v := range verbs {
		code, _, errOut := umbra(t, append(strings.Fields(v.words), "-h")...)
		if code != 0 || !strings.Contains(errOut, "usage: umbra "+v.words) || !strings.Contains(errOut, strings.TrimSpace(v.help)[:10]) {
			t.Errorf("%s -h: exit %d, output %q", v.words, code, errOut)
		}
	}
}

func TestDispatch(t *testing.T) {
	t.Parallel()
	code, out, _ := umbra(t)
	if code != 0 || !strings.Contains(out, "keys gen-org") {
		t.Fatalf("no args: exit %d, %q", code, out)
	}
	code, _, errOut := umbra(t, "frobnicate")
	if code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Fatalf("unknown: exit %d, %q", code, errOut)
	}
	code, _, errOut = umbra(t, "keys", "inspect", "--no-such-flag", "x")
	if code != 2 || !strings.Contains(errOut, "flag provided but not defined") {
		t.Fatalf("bad flag: exit %d, %q", code, errOut)
	}
	code, _, errOut = umbra(t, "keys", "inspect")
	if code != 2 || !strings.Contains(errOut, "wrong number of arguments") {
		t.Fatalf("missing arg: exit %d, %q", code, errOut)
	}
	// "keys" alone lists the keys verbs.
	code, _, errOut = umbra(t, "keys")
	if code != 2 || !strings.Contains(errOut, "keys inspect") || strings.Contains(errOut, "dns check") {
		t.Fatalf("group: exit %d, %q", code, errOut)
	}
}
