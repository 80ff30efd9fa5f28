package imapd

import (
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// TestSubscriptionsIndependent: subscriptions are names, apart from
// mailboxes (RFC 3501 §6.3.6, §6.3.9; RFC 9051 §6.3.7): CREATE does not
// subscribe, DELETE does not unsubscribe, a name without a mailbox can be
// subscribed and unsubscribed, and LSUB and LIST (SUBSCRIBED) show it.
// They used to be a column of the mailbox row.
func TestSubscriptionsIndependent(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	c := e.login(t, nil)
	lsub := func() []string {
		r := dialRaw(t, e.addr)
		r.cmd("LOGIN " + testUser + ` "` + testPass + `"`)
		return r.cmd(`LSUB "" "*"`)
	}
	if err := c.Create("Fresh", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if names, _ := listed(t, c, "", "*", &imap.ListOptions{SelectSubscribed: true}); slices.Contains(names, "Fresh") {
		t.Errorf("CREATE subscribed: %v", names)
	}
	for _, name := range []string{"Fresh", "Ghost"} {
		if err := c.Subscribe(name).Wait(); err != nil {
			t.Fatalf("SUBSCRIBE %s: %v", name, err)
		}
	}
	if err := c.Delete("Fresh").Wait(); err != nil {
		t.Fatal(err)
	}
	names, attrs := listed(t, c, "", "*", &imap.ListOptions{SelectSubscribed: true})
	for _, name := range []string{"Fresh", "Ghost"} {
		if !slices.Contains(names, name) || !slices.Contains(attrs[name], imap.MailboxAttrNonExistent) ||
			!slices.Contains(attrs[name], imap.MailboxAttrSubscribed) {
			t.Errorf("LIST (SUBSCRIBED) %s: %v %v", name, names, attrs[name])
		}
	}
	if got := lsub(); indexOf(got, `Fresh`) < 0 || indexOf(got, `Ghost`) < 0 || indexOf(got, `\Subscribed`) >= 0 {
		t.Errorf("LSUB: %q", got)
	}
	if names, _ := listed(t, c, "", "*", nil); slices.Contains(names, "Ghost") || slices.Contains(names, "Fresh") {
		t.Errorf("plain LIST shows subscribed names without mailboxes: %v", names)
	}
	for _, name := range []string{"Fresh", "Ghost", "Never"} {
		if err := c.Unsubscribe(name).Wait(); err != nil {
			t.Fatalf("UNSUBSCRIBE %s: %v", name, err)
		}
	}
	if got := lsub(); indexOf(got, "Fresh") >= 0 || indexOf(got, "Ghost") >= 0 {
		t.Errorf("LSUB after UNSUBSCRIBE: %q", got)
	}
}
