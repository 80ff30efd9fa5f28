package bridge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message/textproto"

	"umbra/autocrypt"
	"umbra/pgp"
	"umbra/vault"
)

// Each test key costs a little: made once for all tests.
var (
	keysOnce           sync.Once
	aliceKey, carolKey *pgp.Key
	malloryKey         *pgp.Key
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		now := time.Now().Add(-time.Hour)
		aliceKey, _ = pgp.GenerateKey("alice@a.test", now)
		carolKey, _ = pgp.GenerateKey("carol@legacy.test", now)
		malloryKey, _ = pgp.GenerateKey("carol@legacy.test", now)
	})
	if aliceKey == nil || carolKey == nil || malloryKey == nil {
		t.Fatal("test keys not made")
	}
}

// pgpBridge is a bridge with a store, alice's OpenPGP key and a log, and
// nothing else: enough for the OpenPGP decisions.
func pgpBridge(t testing.TB) (*Bridge, *bytes.Buffer) {
	t.Helper()
	testKeys(t)
	s := openTestStore(t, filepath.Join(t.TempDir(), StoreFile))
	t.Cleanup(func() { s.Close() })
	var log bytes.Buffer
	b := &Bridge{store: s, address: "alice@a.test", pgpKey: aliceKey, dir: NewDirectory(nil, nil, "a.test", nil),
		log: slog.New(slog.NewTextHandler(&log, nil))}
	return b, &log
}

func TestEnsureOpenPGPKey(t *testing.T) {
	t.Parallel()
	_, sk, _ := ed25519.GenerateKey(nil)
	keys := &vault.Keys{Address: "alice@a.test", Signing: sk}
	k, made, err := EnsureOpenPGPKey(keys, time.Now())
	if err != nil || !made || keys.OpenPGP == nil || !k.HasAddress("alice@a.test", time.Now()) {
		t.Fatalf("an account without a key: made %v, err %v", made, err)
	}
	again, made, err := EnsureOpenPGPKey(keys, time.Now())
	if err != nil || made || again.Fingerprint() != k.Fingerprint() {
		t.Fatalf("the stored key: made %v, err %v", made, err)
	}
	keys.OpenPGP = []byte("garbage")
	if _, _, err := EnsureOpenPGPKey(keys, time.Now()); err == nil {
		t.Fatal("a damaged key was accepted")
	}
}

// TestEncryptionKey: which legacy mail goes OpenPGP-encrypted.
func TestEncryptionKey(t *testing.T) {
	t.Parallel()
	testKeys(t)
	now := time.Now()
	carol := carolKey.Public()
	fresh := autocrypt.Peer{LastSeen: now, AutocryptTimestamp: now, Key: carol}
	mutual := fresh
	mutual.PreferEncrypt = autocrypt.Mutual
	stale := mutual
	stale.AutocryptTimestamp = now.Add(-40 * 24 * time.Hour)
	imported := malloryKey.Public()
	for _, c := range []struct {
		name            string
		p               peer
		darkOnly, reply bool
		want            *pgp.PublicKey
	}{
		{"never seen", peer{}, false, false, nil},
		{"never seen, dark only", peer{}, true, false, nil},
		{"never seen, reply to encrypted", peer{}, false, true, nil},
		{"Autocrypt key, no preference", peer{auto: fresh}, false, false, nil},
		{"Autocrypt key, no preference, dark only", peer{auto: fresh}, true, false, carol},
		{"Autocrypt key, no preference, reply to encrypted", peer{auto: fresh}, false, true, carol},
		{"Autocrypt key, mutual", peer{auto: mutual}, false, false, carol},
		{"Autocrypt key, mutual but stale", peer{auto: stale}, false, false, nil},
		{"Autocrypt key, mutual but stale, dark only", peer{auto: stale}, true, false, carol},
		{"Autocrypt key, mutual but stale, reply to encrypted", peer{auto: stale}, false, true, carol},
		{"imported key wins", peer{auto: mutual, imported: imported}, false, false, imported},
		{"imported key alone", peer{imported: imported}, false, false, imported},
	} {
		if got := encryptionKey(c.p, c.darkOnly, c.reply, now); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

// TestSubmitLegacyOpenPGP: a legacy recipient whose Autocrypt state says
// mutual gets a PGP/MIME message of their own, with our Autocrypt field
// outside; one without a key gets the plain message; the Sent copy says
// which is which.
func TestSubmitLegacyOpenPGP(t *testing.T) {
	t.Parallel()
	b, _ := pgpBridge(t)
	ctx := context.Background()
	b.dir.legacy["legacy.test"] = time.Now()
	b.dir.legacy["old.test"] = time.Now()
	now := time.Now()
	if err := b.saveRecord(ctx, "carol@legacy.test", peer{auto: autocrypt.Peer{LastSeen: now, AutocryptTimestamp: now,
		Key: carolKey.Public(), PreferEncrypt: autocrypt.Mutual}}.record()); err != nil {
		t.Fatal(err)
	}
	msg := "From: alice@a.test\r\nTo: carol@legacy.test, dave@old.test\r\nSubject: the secret plan\r\n\r\nMeet at noon.\r\n"
	if err := b.Submit(ctx, []string{"carol@legacy.test", "dave@old.test"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	out, err := b.store.Outbox(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byRcpt := map[string][]byte{}
	for _, o := range out {
		for _, r := range o.Recipients {
			byRcpt[r] = o.MIME
		}
	}
	enc, plain := byRcpt["carol@legacy.test"], byRcpt["dave@old.test"]
	if len(out) != 2 || enc == nil || plain == nil {
		t.Fatalf("outbox: %d entries, %v", len(out), byRcpt)
	}
	if !isPGPEncrypted(enc) || bytes.Contains(enc, []byte("secret plan")) || bytes.Contains(enc, []byte("noon")) {
		t.Errorf("carol's copy is not PGP/MIME or leaks the subject or body:\n%s", enc)
	}
	if !bytes.HasPrefix(enc, []byte("Autocrypt: addr=alice@a.test; prefer-encrypt=mutual; keydata=")) {
		t.Errorf("carol's copy lacks the Autocrypt field on top:\n%.200s", enc)
	}
	res, err := pgp.Decrypt(bytes.NewReader(enc), []*pgp.Key{carolKey}, func(uint64) *pgp.PublicKey { return aliceKey.Public() })
	if err != nil {
		t.Fatal(err)
	}
	if !res.Encrypted || res.Signature != pgp.SignatureGood || res.Signer != aliceKey.Fingerprint() || !bytes.Contains(res.Message, []byte("Subject: the secret plan")) {
		t.Errorf("carol opens: encrypted %v, signature %v by %s:\n%s", res.Encrypted, res.Signature, res.Signer, res.Message)
	}
	// Encrypted to ourselves too: the copy opens with our key.
	if _, err := pgp.Decrypt(bytes.NewReader(enc), []*pgp.Key{aliceKey}, nil); err != nil {
		t.Errorf("our own key does not open carol's copy: %v", err)
	}
	if isPGPEncrypted(plain) || !bytes.Contains(plain, []byte("Meet at noon.")) {
		t.Errorf("dave's copy:\n%s", plain)
	}
	sent, err := b.store.List(ctx, mustMailbox(t, b, "Sent"))
	if err != nil || len(sent) != 1 {
		t.Fatalf("Sent: %v, %v", sent, err)
	}
	copy, _ := b.store.Content(ctx, sent[0].ContentID)
	verdict := headerValue(copy, SecurityHeader)
	for _, want := range []string{
		"legacy; sent without end-to-end encryption through your provider a.test, which read it, to dave@old.test;",
		"sent OpenPGP-encrypted and signed (openpgp=" + aliceKey.Fingerprint() + ") through your provider a.test, which saw only",
		"to carol@legacy.test;",
	} {
		if !strings.Contains(verdict, want) {
			t.Errorf("Sent verdict lacks %q: %s", want, verdict)
		}
	}
}

func mustMailbox(t *testing.T, b *Bridge, name string) int64 {
	t.Helper()
	m, err := b.store.Mailbox(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// TestSendLegacyDarkOnly: in dark only, plain legacy mail never reaches
// the provider (sendLegacy fails before it uses the client, which is nil
// here).
func TestSendLegacyDarkOnly(t *testing.T) {
	t.Parallel()
	b, _ := pgpBridge(t)
	b.darkOnly.Store(true)
	err := b.sendLegacy(context.Background(), "dave@old.test", []byte("Subject: hi\r\n\r\nplain\r\n"))
	if !isPermanent(err) || !strings.Contains(err.Error(), "dark only") {
		t.Fatalf("got %v", err)
	}
}

// arrived is legacy mail as the provider's MX seals it: its Received and
// Authentication-Results fields on top.
func arrived(results, msg string) []byte {
	return []byte("Received: from mail.legacy.test ([127.0.0.1]) (using TLS1.3)\r\n\tby mx.a.test (Umbra) with ESMTPS id X;\r\n\tMon, 07 Dec 2026 09:00:00 +0000\r\n" +
		"Authentication-Results: a.test; " + results + "\r\n" + msg)
}

const spfPass = "spf=pass smtp.mailfrom=carol@legacy.test"

func autocryptOf(k *pgp.Key, mutual bool) string {
	h := &autocrypt.Header{Addr: "carol@legacy.test", Key: k.Public()}
	if mutual {
		h.PreferEncrypt = autocrypt.Mutual
	}
	return "Autocrypt: " + autocrypt.Format(h) + "\r\n"
}

// TestOpenLegacyAutocrypt: a sender's Autocrypt header is taken only when
// the MX authenticated the sender's domain, and a malformed one is logged
// and ignored.
func TestOpenLegacyAutocrypt(t *testing.T) {
	t.Parallel()
	testKeys(t)
	ctx := context.Background()
	plain := "From: Carol <carol@legacy.test>\r\nTo: alice@a.test\r\nDate: Mon, 07 Dec 2026 08:59:00 +0000\r\nSubject: hi\r\n\r\nhello\r\n"
	for _, c := range []struct {
		name, results, header string
		wantKey               bool
		wantLog               string
	}{
		{"SPF pass", spfPass, autocryptOf(carolKey, true), true, ""},
		{"DKIM pass", "dkim=pass header.d=legacy.test", autocryptOf(carolKey, true), true, ""},
		{"SPF of another domain", "spf=pass smtp.mailfrom=x@elsewhere.test", autocryptOf(carolKey, true), false, "did not authenticate"},
		{"DMARC fail", spfPass + "; dmarc=fail header.from=legacy.test", autocryptOf(carolKey, true), false, "did not authenticate"},
		{"no results", "none", autocryptOf(carolKey, true), false, "did not authenticate"},
		{"malformed", spfPass, "Autocrypt: addr=carol@legacy.test; keydata=bm90IGEga2V5\r\n", false, "Autocrypt header ignored"},
		{"critical attribute", spfPass, "Autocrypt: addr=carol@legacy.test; evil=1; keydata=bm90\r\n", false, "Autocrypt header ignored"},
		{"another address", spfPass, strings.Replace(autocryptOf(carolKey, true), "carol@", "eve@", 1), false, "not the From address"},
	} {
		b, log := pgpBridge(t)
		got := b.openLegacy(ctx, arrived(c.results, c.header+plain), "a.test")
		if v := headerValue(got, SecurityHeader); !strings.HasPrefix(v, "legacy; not end-to-end encrypted; via=a.test; tls=TLS1.3; ") {
			t.Errorf("%s: verdict %q", c.name, v)
		}
		p, err := b.loadPeer(ctx, "carol@legacy.test", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if (p.auto.Key != nil) != c.wantKey || p.auto.LastSeen.IsZero() {
			t.Errorf("%s: key taken %v, want %v (last seen %v)", c.name, p.auto.Key != nil, c.wantKey, p.auto.LastSeen)
		}
		if c.wantKey && p.auto.PreferEncrypt != autocrypt.Mutual {
			t.Errorf("%s: prefer-encrypt not kept", c.name)
		}
		if c.wantLog != "" && !strings.Contains(log.String(), "level=INFO") || !strings.Contains(log.String(), c.wantLog) {
			t.Errorf("%s: log %q lacks %q at INFO", c.name, log.String(), c.wantLog)
		}
	}
}

// TestOpenLegacyOpenPGP: verdicts on OpenPGP mail.
func TestOpenLegacyOpenPGP(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	testKeys(t)
	now := time.Now()
	orig := "From: carol@legacy.test\r\nTo: alice@a.test\r\nSubject: inner subject\r\nMessage-ID: <1@legacy.test>\r\n\r\nthe secret\r\n"
	encrypt := func(from *pgp.Key) string {
		enc, err := pgp.Encrypt(strings.NewReader(orig), from, []*pgp.PublicKey{aliceKey.Public()}, now)
		if err != nil {
			t.Fatal(err)
		}
		return string(enc)
	}
	signed, err := pgp.Sign(strings.NewReader(orig), carolKey, now)
	if err != nil {
		t.Fatal(err)
	}
	toOther, err := pgp.Encrypt(strings.NewReader(orig), carolKey, []*pgp.PublicKey{malloryKey.Public()}, now)
	if err != nil {
		t.Fatal(err)
	}
	fp := carolKey.Fingerprint()
	for _, c := range []struct {
		name, msg  string
		known      bool // carol's key is in the store
		verdict    string
		wantOpened bool
	}{
		{"encrypted, signer known", encrypt(carolKey), true, "legacy; openpgp=encrypted,signed-good(" + fp + "); via=a.test; tls=TLS1.3; spf=pass", true},
		{"encrypted, signer unknown", encrypt(carolKey), false, "legacy; openpgp=encrypted,signed-unknown; via=a.test;", true},
		{"encrypted, signed by a key not carol's", encrypt(malloryKey), true, "legacy; openpgp=encrypted,signed-unknown;", true},
		{"signed only", string(signed), true, "legacy; not end-to-end encrypted; openpgp=not-encrypted,signed-good(" + fp + "); via=a.test;", true},
		{"signed only, unknown key", string(signed), false, "legacy; not end-to-end encrypted; openpgp=not-encrypted,signed-unknown; via=a.test;", false},
		{"encrypted to someone else", string(toOther), true, "legacy; openpgp=unreadable; via=a.test;", false},
	} {
		b, _ := pgpBridge(t)
		if c.known {
			if _, err := b.importKey(ctx, carolKey.Public()); err != nil {
				t.Fatal(err)
			}
		}
		got := b.openLegacy(ctx, arrived(spfPass, c.msg), "a.test")
		if v := headerValue(got, SecurityHeader); !strings.HasPrefix(v, c.verdict) {
			t.Errorf("%s: verdict\n %q, want prefix\n %q", c.name, v, c.verdict)
		}
		opened := bytes.Contains(got, []byte("\r\nSubject: inner subject\r\n")) && bytes.Contains(got, []byte("the secret")) &&
			!bytes.Contains(got, []byte("Subject: [...]")) && !bytes.Contains(got, []byte("multipart/"))
		if opened != c.wantOpened {
			t.Errorf("%s: opened %v, want %v:\n%s", c.name, opened, c.wantOpened, got)
		}
		if c.wantOpened && !bytes.Contains(got, []byte("\r\nReceived: from mail.legacy.test")) {
			t.Errorf("%s: the MX's trace fields are gone:\n%.400s", c.name, got)
		}
	}
}

// TestReplyToEncrypted: a reply to a message that came OpenPGP-encrypted
// is encrypted even when the correspondent's Autocrypt state alone would
// not say so (no preference), Level 1 §2.4.2.
func TestReplyToEncrypted(t *testing.T) {
	t.Parallel()
	b, _ := pgpBridge(t)
	ctx := context.Background()
	now := time.Now()
	b.dir.legacy["legacy.test"] = now
	if err := b.saveRecord(ctx, "carol@legacy.test", peer{auto: autocrypt.Peer{LastSeen: now, AutocryptTimestamp: now, Key: carolKey.Public()}}.record()); err != nil {
		t.Fatal(err)
	}
	enc, err := pgp.Encrypt(strings.NewReader("From: carol@legacy.test\r\nTo: alice@a.test\r\nMessage-ID: <q-1@legacy.test>\r\nSubject: q\r\n\r\nsecret question\r\n"),
		carolKey, []*pgp.PublicKey{aliceKey.Public()}, now)
	if err != nil {
		t.Fatal(err)
	}
	b.openLegacy(ctx, arrived(spfPass, string(enc)), "a.test")
	queued := func(inReplyTo string) []byte {
		t.Helper()
		msg := "From: alice@a.test\r\nTo: carol@legacy.test\r\nSubject: a\r\n" + inReplyTo + "\r\nanswer\r\n"
		if err := b.Submit(ctx, []string{"carol@legacy.test"}, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		out, err := b.store.Outbox(ctx)
		if err != nil || len(out) == 0 {
			t.Fatalf("outbox: %v", err)
		}
		last := out[len(out)-1]
		return last.MIME
	}
	if m := queued(""); isPGPEncrypted(m) {
		t.Error("a new message to a peer without preference was encrypted")
	}
	if m := queued("In-Reply-To: <other@legacy.test>\r\n"); isPGPEncrypted(m) {
		t.Error("a reply to a message that was not encrypted was encrypted")
	}
	if m := queued("In-Reply-To: <q-1@legacy.test>\r\n"); !isPGPEncrypted(m) {
		t.Errorf("a reply to an encrypted message went plain:\n%s", m)
	}
}

func TestImportKey(t *testing.T) {
	t.Parallel()
	b, _ := pgpBridge(t)
	ctx := context.Background()
	got, err := b.importKey(ctx, carolKey.Public())
	if err != nil || len(got) != 1 || got[0] != "carol@legacy.test" {
		t.Fatalf("import: %v, %v", got, err)
	}
	key, err := b.legacyKey(ctx, "Carol@Legacy.test", false)
	if err != nil || key == nil || key.Fingerprint() != carolKey.Fingerprint() {
		t.Fatalf("an imported key is used: %v, %v", key, err)
	}
	if _, err := b.loadPeer(ctx, "nobody@legacy.test", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := b.store.SetState(ctx, peerState("bad@legacy.test"), []byte("{")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.loadPeer(ctx, "bad@legacy.test", time.Now()); err == nil || !strings.Contains(err.Error(), "bad@legacy.test") {
		t.Fatalf("damaged state: %v", err)
	}
}

// FuzzOpenLegacy feeds arbitrary legacy mail (as the MX sealed it, or
// not) to what the bridge does with it: the trace fields, the Autocrypt
// header, OpenPGP and the verdict (openLegacy without the store, whose
// SQLite engine takes a long time to start in each fuzzing worker). It must
// never panic, and the verdict is always the bridge's own.
func FuzzOpenLegacy(f *testing.F) {
	testKeys(f)
	b := &Bridge{address: "alice@a.test", pgpKey: aliceKey, log: slog.New(slog.DiscardHandler)}
	enc, _ := pgp.Encrypt(strings.NewReader("From: carol@legacy.test\r\nSubject: s\r\n\r\nbody\r\n"), carolKey, []*pgp.PublicKey{aliceKey.Public()}, time.Now())
	f.Add(arrived(spfPass, autocryptOf(carolKey, true)+"From: carol@legacy.test\r\n\r\nhello\r\n"))
	f.Add(arrived(spfPass, string(enc)))
	f.Add(arrived("dkim=pass header.d=legacy.test", "From: a@x, b@y\r\nAutocrypt: addr=a@x; keydata=AAAA\r\n\r\n"))
	f.Add(arrived(spfPass, "Content-Type: text/plain\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n\r\nAAAA\r\n-----END PGP MESSAGE-----\r\n"))
	f.Add([]byte("Received: x\r\n\tcontinued\r\n"))
	f.Add([]byte("no header"))
	now := time.Now()
	f.Fuzz(func(t *testing.T, msg []byte) {
		if !bytes.HasPrefix(msg, traceFields(msg)) {
			t.Fatal("traceFields is not a prefix of the message")
		}
		tr, _ := readTrace(msg, "a.test")
		var from string
		if h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(msg))); err == nil {
			from = singleAddress(h.Get("From"))
			if found, err := findAutocrypt(h, from, tr, now); found != nil && (err != nil || !strings.EqualFold(found.Addr, from)) {
				t.Fatalf("took an Autocrypt header for %s from %q (%v)", found.Addr, from, err)
			}
		}
		opened, v := b.openPGP(msg, from, peer{}, now)
		if v == "" && !bytes.Equal(opened, msg) {
			t.Fatal("a message that is not OpenPGP was changed")
		}
		if verdict := legacyVerdict(tr, v); !strings.HasPrefix(verdict, "legacy; ") || strings.ContainsAny(verdict, "\r\n") {
			t.Fatalf("verdict %q", verdict)
		}
	})
}
