package provider_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"umbra/dmime"
	"umbra/provider"
	"umbra/provider/store"
	"umbra/signet"
	"umbra/testnet"
)

// fastRetries makes relay retries quick enough for tests.
func fastRetries(c *provider.Config) {
	c.RetryBase = 50 * time.Millisecond
	c.RetryMax = 500 * time.Millisecond
}

// world is two providers, a.test and b.test, with alice@a.test and
// bob@b.test.
type world struct {
	net        *testnet.Network
	a, b       *testnet.Node
	alice, bob *testnet.User
}

func newWorld(t *testing.T) *world {
	t.Helper()
	n, err := testnet.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	w := &world{net: n}
	for _, d := range []string{"a.test", "b.test"} {
		nd, err := n.AddProvider(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := nd.Start(fastRetries); err != nil {
			t.Fatal(err)
		}
	}
	w.a, w.b = n.Node("a.test"), n.Node("b.test")
	ctx := context.Background()
	if w.alice, err = w.a.NewUser(ctx, "alice@a.test"); err != nil {
		t.Fatal(err)
	}
	if w.bob, err = w.b.NewUser(ctx, "bob@b.test"); err != nil {
		t.Fatal(err)
	}
	return w
}

const secretSubject = "Quarterly plans for the lighthouse"
const secretLine = "The key is under the third stone from the left."

func mimeMessage(subject, body string) []byte {
	return []byte("From: Alice <alice@a.test>\r\nTo: Bob <bob@b.test>\r\nSubject: " + subject +
		"\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@a.test>\r\n\r\n" + body + "\r\n")
}

// waitMail polls bob's mailbox until it holds n documents of kind mail.
func waitMail(t *testing.T, st store.Store, address string, n int) []store.Change {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var all []store.Change
		var since int64
		for {
			page, err := st.Mailbox().Changes(context.Background(), address, since, 1000)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page {
				if c.Kind == store.KindMail && !c.Deleted {
					all = append(all, c)
				}
				since = c.Seq
			}
			if len(page) < 1000 {
				break
			}
		}
		if len(all) >= n {
			return all
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d messages after 30 s, want %d", address, len(all), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// openAsBob opens a stored message as its recipient.
func (w *world) openAsBob(t *testing.T, data []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	aOrg, err := w.a.OrgSignet()
	if err != nil {
		t.Fatal(err)
	}
	_, err = dmime.Open(bytes.NewReader(data), dmime.RoleRecipient, w.bob.Enc, dmime.OpenOptions{
		MIME: &out,
		AuthorKey: func(address string, fp signet.Fingerprint, _ *dmime.Carried) (ed25519.PublicKey, error) {
			if address != w.alice.Address || fp != w.alice.Signet.Fingerprint() {
				t.Fatalf("author %s %s", address, fp)
			}
			return w.alice.Signet.SigningKey, nil
		},
		OriginKeys: []ed25519.PublicKey{aOrg.SOKs[0].Key},
		Recipient:  w.bob.Address,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// Alice's message, submitted at a.test, crosses DMTP and lands in bob's
// mailbox at b.test; bob's keys open it byte for byte. Neither provider's
// files hold the subject or a body line, and b.test's files never name
// alice.
func TestRelayBetweenDomains(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	mime := mimeMessage(secretSubject, secretLine)
	msg, err := testnet.Seal(w.alice, w.a, w.bob, w.b, mime)
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.a.Provider.Submit(ctx, w.alice.Address, bytes.NewReader(msg), int64(len(msg)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Local || res.Queue == 0 {
		t.Fatalf("submit result %+v, want a queued relay", res)
	}
	got := waitMail(t, w.b.Provider.Store(), w.bob.Address, 1)
	doc, err := w.b.Provider.Store().Mailbox().Get(ctx, w.bob.Address, got[0].DocID)
	if err != nil {
		t.Fatal(err)
	}
	if plain := w.openAsBob(t, doc.Data); !bytes.Equal(plain, mime) {
		t.Fatalf("bob reads %q, want %q", plain, mime)
	}
	// The queue at a.test empties once b.test acknowledged.
	deadline := time.Now().Add(10 * time.Second)
	for {
		q, err := w.a.Provider.Store().Queue().List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(q) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue still holds %d entries", len(q))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Stop both so every byte is on disk (WAL checkpointed or not, the
	// scan reads every file), then scan.
	w.a.Stop()
	w.b.Stop()
	for _, nd := range []*testnet.Node{w.a, w.b} {
		needles := []string{secretSubject, secretLine, "lighthouse"}
		if nd == w.b {
			needles = append(needles, "alice")
		}
		scanDir(t, nd.Dir, needles)
	}
}

// scanDir fails if any file under dir contains any needle.
func scanDir(t *testing.T, dir string, needles []string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) || bytes.Contains(bytes.ToLower(b), []byte(strings.ToLower(n))) {
				t.Errorf("%s contains %q", path, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatalf("scanned only %d files in %s", files, dir)
	}
}

// A second server on a running provider's directory refuses to start.
func TestOneServerPerDirectory(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	p, err := provider.Open(w.b.Dir, func(c *provider.Config) { c.DMTPListen, c.DMAPListen, c.MetricsListen = "127.0.0.1:0", "off", "off" })
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Start(); err == nil || !strings.Contains(err.Error(), "another umbra server is running") {
		t.Fatalf("second Start: %v", err)
	}
}
