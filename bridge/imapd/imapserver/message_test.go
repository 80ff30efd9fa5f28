package imapserver

import (
	"reflect"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// TestParseGroupedAddressList: groups become start and end markers around
// their members (RFC 3501 §7.4.2); separators inside quotes, comments and
// angle brackets do not split.
func TestParseGroupedAddressList(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][]imap.Address{
		"undisclosed-recipients:;": {{Mailbox: "undisclosed-recipients"}, {}},
		`Team: "Doe, J" <j@d.test>, k@e.test; x@y.test`: {
			{Mailbox: "Team"}, {Name: "Doe, J", Mailbox: "j", Host: "d.test"}, {Mailbox: "k", Host: "e.test"}, {},
			{Mailbox: "x", Host: "y.test"},
		},
		`"a:b" <a@b.test> (c;d), Open: o@p.test`: {
			{Name: "a:b", Mailbox: "a", Host: "b.test"}, {Mailbox: "Open"}, {Mailbox: "o", Host: "p.test"}, {},
		},
	} {
		if got := parseGroupedAddressList(in); !reflect.DeepEqual(got, want) {
			t.Errorf("%q:\n got %+v\nwant %+v", in, got, want)
		}
	}
}
