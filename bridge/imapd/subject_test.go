package imapd

import "testing"

// TestBaseSubject: RFC 5256 §2.1's steps, one case each, and the reply
// or forward marker THREAD=REFERENCES uses.
func TestBaseSubject(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		refwd    bool
	}{
		{"Hello", "Hello", false},
		{"  Hello \t  world  ", "Hello world", false},
		{"Re: Hello", "Hello", true},
		{"RE:Hello", "Hello", true},
		{"re: Re: FWD: hello", "hello", true},
		{"Fw: hello", "hello", true},
		{"Re [2]: hello", "hello", true},
		{"[list] Re: hello", "hello", true},
		{"[list] hello", "hello", false},
		{"[list]", "[list]", false},
		{"[a] [b] Re: [c] hello", "hello", true},
		{"hello (fwd)", "hello", true},
		{"hello (FWD) (fwd)  ", "hello", true},
		{"[fwd: hello]", "hello", true},
		{"[Fwd: Re: hello (fwd)]", "hello", true},
		{"Re: [fwd: [list] hello]", "hello", true},
		{"Reply", "Reply", false},
		{"Re hello", "Re hello", false},
		{"[unclosed hello", "[unclosed hello", false},
		{"Re:", "", true},
		{"", "", false},
		{"[Grüße] Re: Grüße", "Grüße", true},
	} {
		got, refwd := baseSubject(tc.in)
		if got != tc.want || refwd != tc.refwd {
			t.Errorf("baseSubject(%q) = %q, %v; want %q, %v", tc.in, got, refwd, tc.want, tc.refwd)
		}
	}
}
