package provider_test

import (
	"strings"
	"testing"

	"umbra/testlog"
	"umbra/testnet"
)

// A document of a kind the bridge cannot read (a later version's) is
// neither applied nor passed over silently (docs/spec/sync.md §7.4): it is
// counted in the bridge's status with its kind, logged once, recorded so
// that the next pull does not fetch it again, and the mail around it in
// the feed arrives as usual.
func TestUnknownKindCounted(t *testing.T) {
	t.Parallel()
	w := newOneDomain(t, new(clock), nil)
	ctx := t.Context()
	deliver := func() {
		t.Helper()
		if err := w.b.Deliver(ctx, w.carol, w.bob.User, w.b, 1, func(i int) []byte { return testnet.MailMIME(i, 2<<10) }); err != nil {
			t.Fatal(err)
		}
	}
	deliver()
	if _, err := w.bob.Client.Put(ctx, "later-1", "later-kind", 0, []byte("what a later version writes")); err != nil {
		t.Fatal(err)
	}
	deliver()

	keys := newDeviceKeys(t, w.bob.User)
	var log testlog.Buffer
	tablet := openBridge(t, w.net, w.b, t.TempDir(), keys, &log)
	for range 2 {
		if err := tablet.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	st := tablet.Status()
	if st.UnknownDocs != 1 || st.UnknownKind != "later-kind" {
		t.Errorf("status: %d unknown documents, last kind %q; want 1 of \"later-kind\"", st.UnknownDocs, st.UnknownKind)
	}
	if st.Received != 2 {
		t.Errorf("status: %d messages received, want the 2 delivered around the unknown document", st.Received)
	}
	if n := strings.Count(string(log.Bytes()), "kind=later-kind"); n != 1 {
		t.Errorf("the unknown kind is logged %d times, want once:\n%s", n, log.Bytes())
	}
	revs, err := tablet.Store().Revisions(ctx, []string{"later-1"})
	if err != nil || revs["later-1"] != 1 {
		t.Errorf("the unknown document is recorded at revision %d (%v), want 1", revs["later-1"], err)
	}
}
