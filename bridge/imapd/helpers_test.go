package imapd

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"umbra/bridge/mailstore"
	"umbra/tlscert"
)

const (
	testUser = "alice@a.test"
	testPass = "correct horse battery staple"
)

// testEnv is a running server over a fresh store.
type testEnv struct {
	srv   *Server
	store *mailstore.Store
	addr  string
	stop  func() // closes the server (not the store); also run when the test ends
}

// start opens a store in t.TempDir() with a random key and serves it on
// 127.0.0.1; both are closed when the test ends.
func start(t testing.TB, tweak func(*Options)) *testEnv {
	t.Helper()
	st, _, _ := openStore(t)
	return serve(t, st, tweak)
}

// openStore opens a store in t.TempDir() with a random key, closed when
// the test ends; with its path and key it opens again (a restart, or
// another process).
func openStore(t testing.TB) (*mailstore.Store, string, []byte) {
	t.Helper()
	key := make([]byte, mailstore.KeySize)
	rand.Read(key)
	path := filepath.Join(t.TempDir(), "mail.db")
	st, err := mailstore.Open(path, key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	return st, path, key
}

// serve serves st on 127.0.0.1 until e.stop or the end of the test.
func serve(t testing.TB, st *mailstore.Store, tweak func(*Options)) *testEnv {
	t.Helper()
	o := Options{Store: st, Username: testUser, Password: testPass}
	if tweak != nil {
		tweak(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			if err := srv.Close(); err != nil {
				t.Error(err)
			}
			if err := <-served; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return &testEnv{srv: srv, store: st, addr: ln.Addr().String(), stop: stop}
}

// dial connects without logging in; the client is closed when the test
// ends.
func (e *testEnv) dial(t testing.TB, opts *imapclient.Options) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(e.addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// login connects and logs in.
func (e *testEnv) login(t testing.TB, opts *imapclient.Options) *imapclient.Client {
	t.Helper()
	c := e.dial(t, opts)
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		t.Fatalf("login: %v", err)
	}
	return c
}

// selectBox logs in and selects a mailbox.
func (e *testEnv) selectBox(t testing.TB, name string, opts *imapclient.Options) *imapclient.Client {
	t.Helper()
	c := e.login(t, opts)
	if _, err := c.Select(name, nil).Wait(); err != nil {
		t.Fatalf("select %s: %v", name, err)
	}
	return c
}

// add stores a message directly, as the sync engine would.
func (e *testEnv) add(t testing.TB, mailbox, subject, body string, origin mailstore.Origin, flags ...string) mailstore.Message {
	t.Helper()
	m, created, err := e.store.Add(context.Background(), mailstore.NewMessage{
		Key: rand.Text(), Mailbox: mailbox, Flags: flags, MIME: mimeMsg(subject, body),
		InternalDate: time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC),
	}, origin)
	if err != nil || !created {
		t.Fatalf("add: %v (created %v)", err, created)
	}
	return m
}

func mimeMsg(subject, body string) []byte {
	return []byte("From: Bob <bob@b.test>\r\nTo: Alice <alice@a.test>\r\nSubject: " + subject +
		"\r\nDate: Sun, 10 Mar 2024 12:00:00 +0000\r\nMessage-ID: <" + strings.ToLower(rand.Text()) +
		"@b.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n")
}

// appendMsg APPENDs raw and returns the APPENDUID data.
func appendMsg(t testing.TB, c *imapclient.Client, mailbox string, raw []byte, opts *imap.AppendOptions) *imap.AppendData {
	t.Helper()
	cmd := c.Append(mailbox, int64(len(raw)), opts)
	if _, err := cmd.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := cmd.Wait()
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return data
}

// wantCode checks err is an IMAP status response with code.
func wantCode(t testing.TB, err error, code imap.ResponseCode) {
	t.Helper()
	var ie *imap.Error
	if !errors.As(err, &ie) {
		t.Fatalf("got %v, want an IMAP error with [%s]", err, code)
	}
	if ie.Code != code {
		t.Fatalf("got [%s] %s, want [%s]", ie.Code, ie.Text, code)
	}
}

// selfSigned returns a fresh self-signed certificate for 127.0.0.1.
func selfSigned(t testing.TB) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	pair, err := tlscert.New([]string{"127.0.0.1"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pair.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	return cert, pair.Leaf
}

// waitFor polls cond until it holds, failing the test after a generous
// bound (a hang guard, not a timing assertion).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// withoutRecent drops \Recent, which IMAP4rev1 sessions see on messages
// new to them (recent.go), for tests about the stored flags.
func withoutRecent(flags []imap.Flag) []imap.Flag {
	return slices.DeleteFunc(slices.Clone(flags), func(f imap.Flag) bool { return f == `\Recent` })
}
