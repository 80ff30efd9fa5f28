package bridge

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"umbra/pgp"
	"umbra/wkd"
	"umbra/wkd/wkdtest"
)

// wkdBridge is pgpBridge looking keys up in dir; legacy.test and old.test
// are known to be outside Umbra.
func wkdBridge(t *testing.T, dir *wkdtest.Server) (*Bridge, *bytes.Buffer) {
	b, log := pgpBridge(t)
	b.wkd = &wkd.Client{HTTP: dir.HTTPClient(false), Timeout: 10 * time.Second}
	b.dir.legacy["legacy.test"] = time.Now()
	b.dir.legacy["old.test"] = time.Now()
	return b, log
}

// outboxByRcpt submits msg to rcpts and returns the outbox's MIME for
// each recipient.
func outboxByRcpt(t *testing.T, b *Bridge, rcpts []string, msg string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	before, err := b.store.Outbox(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Submit(ctx, rcpts, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	out, err := b.store.Outbox(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byRcpt := map[string][]byte{}
	for _, o := range out[len(before):] {
		for _, r := range o.Recipients {
			byRcpt[r] = o.MIME
		}
	}
	return byRcpt
}

// TestWKDKeyUsed: a legacy recipient with no key this device knows, whose
// domain publishes one in its Web Key Directory, gets the message
// OpenPGP-encrypted to that key; one without gets it plain. Both answers
// are remembered: the next message asks the directory nothing.
func TestWKDKeyUsed(t *testing.T) {
	t.Parallel()
	dir := wkdtest.New(t)
	b, _ := wkdBridge(t, dir)
	dir.Publish("/.well-known/openpgpkey/legacy.test/hu/"+wkd.Hash("carol"), carolKey.Public().Bytes())
	msg := "From: alice@a.test\r\nTo: carol@legacy.test, dave@old.test\r\nSubject: the secret plan\r\n\r\nMeet at noon.\r\n"
	byRcpt := outboxByRcpt(t, b, []string{"carol@legacy.test", "dave@old.test"}, msg)
	enc, plain := byRcpt["carol@legacy.test"], byRcpt["dave@old.test"]
	if !isPGPEncrypted(enc) || bytes.Contains(enc, []byte("noon")) {
		t.Fatalf("carol's copy is not encrypted:\n%.300s", enc)
	}
	res, err := pgp.Decrypt(bytes.NewReader(enc), []*pgp.Key{carolKey}, func(uint64) *pgp.PublicKey { return aliceKey.Public() })
	if err != nil || !bytes.Contains(res.Message, []byte("Meet at noon.")) {
		t.Fatalf("carol cannot open it: %v", err)
	}
	if isPGPEncrypted(plain) || !bytes.Contains(plain, []byte("Meet at noon.")) {
		t.Errorf("dave's copy:\n%.300s", plain)
	}
	hosts := dir.Hosts()
	if len(hosts) != 2 || !strings.HasPrefix(hosts[0], "openpgpkey.") || !strings.HasPrefix(hosts[1], "openpgpkey.") {
		t.Fatalf("look-ups went to %q, want one per recipient domain", hosts)
	}
	byRcpt = outboxByRcpt(t, b, []string{"carol@legacy.test", "dave@old.test"}, msg)
	if !isPGPEncrypted(byRcpt["carol@legacy.test"]) || isPGPEncrypted(byRcpt["dave@old.test"]) {
		t.Error("the second message was not sent as the first")
	}
	if n := len(dir.Hosts()); n != 2 {
		t.Errorf("the second message made %d more look-ups; the answers are remembered", n-2)
	}
}

// TestWKDUnreachable: a directory that never answers costs a message at
// most the look-up's timeout, the message goes plain, and the directory is
// not asked again within the hour.
func TestWKDUnreachable(t *testing.T) {
	t.Parallel()
	dir := wkdtest.New(t)
	dir.Stall()
	b, log := wkdBridge(t, dir)
	b.wkd.Timeout = 500 * time.Millisecond
	msg := "From: alice@a.test\r\nTo: dave@old.test\r\nSubject: hello\r\n\r\nhi\r\n"
	for range 2 {
		if isPGPEncrypted(outboxByRcpt(t, b, []string{"dave@old.test"}, msg)["dave@old.test"]) {
			t.Fatal("encrypted without a key")
		}
	}
	if n := len(dir.Hosts()); n > 2 { // advanced, then perhaps direct
		t.Errorf("%d requests; the failure is remembered", n)
	}
	if !strings.Contains(log.String(), "WKD look-up failed") || strings.Contains(log.String(), "level=ERROR") {
		t.Errorf("log:\n%s", log)
	}
}

// TestWKDDarkOnly: in dark only, a recipient whose key is only in WKD can
// be written to; one with no key anywhere cannot.
func TestWKDDarkOnly(t *testing.T) {
	t.Parallel()
	dir := wkdtest.New(t)
	b, _ := wkdBridge(t, dir)
	b.darkOnly.Store(true)
	dir.Publish("/.well-known/openpgpkey/legacy.test/hu/"+wkd.Hash("carol"), carolKey.Public().Bytes())
	ctx := context.Background()
	if k, err := b.legacyKey(ctx, "carol@legacy.test", false); err != nil || k == nil || k.Fingerprint() != carolKey.Fingerprint() {
		t.Errorf("carol: key %v, %v", k, err)
	}
	if k, err := b.legacyKey(ctx, "dave@old.test", false); err != nil || k != nil {
		t.Errorf("dave: key %v, %v", k, err)
	}
}
