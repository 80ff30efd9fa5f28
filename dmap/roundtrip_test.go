package dmap

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"umbra/signet"
)

// TestTransport: the server speaks HTTP/2 over TLS 1.3, and a client pinned
// to another key refuses it.
func TestTransport(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	resp, _ := e.raw(t, http.MethodGet, "/dmap/v1/devices", "", "", nil)
	if resp.ProtoMajor != 2 || resp.TLS == nil || resp.TLS.Version != tls.VersionTLS13 {
		t.Fatalf("proto %s, TLS %+v; want HTTP/2 over TLS 1.3", resp.Proto, resp.TLS)
	}
	u := e.newUser(t, "alice")
	if _, err := u.c.Devices(t.Context()); err != nil {
		t.Fatal(err)
	}
	wrong := sha256.Sum256([]byte("another key"))
	c, err := NewClient(e.base, ClientTLSConfig(wrong[:], "dmap.a.test"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(t.Context(), u.addr, u.device); err == nil {
		t.Fatal("a client pinned to another key logged in")
	}
	for _, bad := range []string{"http://127.0.0.1:1", "https://127.0.0.1:1/x", "https://u@127.0.0.1:1", "https://127.0.0.1:1?q"} {
		if _, err := NewClient(bad, ClientTLSConfig(e.pin, "x")); err == nil {
			t.Errorf("NewClient(%q) accepted", bad)
		}
	}
}

// TestRegisterAndLogin: registration returns the request certified by the
// organisation; login yields tokens; refresh replaces them.
func TestRegisterAndLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	u := e.newUser(t, "alice")
	org, _ := testOrg()
	if err := u.signet.Verify(org, time.Now()); err != nil {
		t.Fatalf("registered signet does not verify: %v", err)
	}
	if u.deviceID != DeviceID(pubOf(u.device)) {
		t.Fatalf("device id %q, want %q", u.deviceID, DeviceID(pubOf(u.device)))
	}
	before := u.c.Tokens()
	if before.Address != u.addr || before.DeviceID != u.deviceID || len(before.Access) != 43 || len(before.Refresh) != 43 {
		t.Fatalf("tokens %+v", before)
	}
	if err := u.c.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	after := u.c.Tokens()
	if after.Access == before.Access || after.Refresh == before.Refresh || after.DeviceID != u.deviceID {
		t.Fatalf("refresh did not replace the tokens: %+v → %+v", before, after)
	}
	if _, err := u.c.Devices(t.Context()); err != nil {
		t.Fatalf("new access token refused: %v", err)
	}
	// The old refresh token worked once.
	old := after
	old.Refresh = before.Refresh
	u.c.SetTokens(old)
	wantCode(t, u.c.Refresh(t.Context()), CodeUnauthorized, http.StatusUnauthorized)
}

// TestClientRefreshesItself: with an access token that lives less than
// the client's margin, every call refreshes first, and keeps working.
func TestClientRefreshesItself(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.AccessTTL = 20 * time.Second })
	u := e.newUser(t, "alice")
	seen := map[string]bool{u.c.Tokens().Access: true}
	for range 3 {
		if _, err := u.c.Changes(t.Context(), 0, 0); err != nil {
			t.Fatal(err)
		}
		tok := u.c.Tokens().Access
		if seen[tok] {
			t.Fatal("the client reused an access token about to expire")
		}
		seen[tok] = true
	}
}

// TestDocuments: create, replace, read whole and in ranges, list, delete,
// conflicts with the current revision.
func TestDocuments(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	u := e.newUser(t, "alice")
	ctx := t.Context()
	c1, err := u.c.Put(ctx, "note:1", "note", 0, []byte("first"))
	if err != nil {
		t.Fatal(err)
	}
	if c1.Revision != 1 || c1.ID != "note:1" || c1.Kind != "note" || c1.Size != 5 {
		t.Fatalf("created %+v", c1)
	}
	_, err = u.c.Put(ctx, "note:1", "note", 0, []byte("again"))
	if e := wantCode(t, err, CodeConflict, http.StatusConflict); e.Current != 1 {
		t.Fatalf("conflict names revision %d, want 1", e.Current)
	}
	data := bytes.Repeat([]byte("0123456789"), 1000)
	c2, err := u.c.Put(ctx, "note:1", "note", 1, data)
	if err != nil || c2.Revision != 2 || c2.Seq <= c1.Seq {
		t.Fatalf("replace: %+v, %v", c2, err)
	}
	d, err := u.c.Get(ctx, "note:1")
	if err != nil || !bytes.Equal(d.Data, data) || d.Revision != 2 || d.Kind != "note" {
		t.Fatalf("get: rev %d kind %q %d bytes, %v", d.Revision, d.Kind, len(d.Data), err)
	}
	p, err := u.c.GetRange(ctx, "note:1", 9995, 10)
	if err != nil || !bytes.Equal(p.Data, data[9995:]) || p.Offset != 9995 || p.Size != 10000 || p.Revision != 2 {
		t.Fatalf("range at the end: %+v, %v", p, err)
	}
	p, err = u.c.GetRange(ctx, "note:1", 100, 50)
	if err != nil || !bytes.Equal(p.Data, data[100:150]) {
		t.Fatalf("range: %q, %v", p.Data, err)
	}
	_, err = u.c.GetRange(ctx, "note:1", 10000, 1)
	wantCode(t, err, CodeRangeNotSatisfiable, http.StatusRequestedRangeNotSatisfiable)

	if _, err := u.c.Put(ctx, "empty", "note", 0, nil); err != nil {
		t.Fatal(err)
	}
	if d, err := u.c.Get(ctx, "empty"); err != nil || len(d.Data) != 0 {
		t.Fatalf("empty document: %+v, %v", d, err)
	}
	page, err := u.c.Changes(ctx, 0, 0)
	if err != nil || len(page.Changes) != 2 || page.More || page.Next != page.Changes[1].Seq || page.Head != page.Next {
		t.Fatalf("changes: %+v, %v", page, err)
	}
	if page.Changes[0].ID != "note:1" || page.Changes[0].Revision != 2 {
		t.Fatalf("first change %+v", page.Changes[0])
	}
	if p2, err := u.c.Changes(ctx, page.Next, 0); err != nil || len(p2.Changes) != 0 || p2.Next != page.Next || p2.Head != page.Next {
		t.Fatalf("changes after the last: %+v, %v", p2, err)
	}

	_, err = u.c.Delete(ctx, "note:1", 1)
	if e := wantCode(t, err, CodeConflict, http.StatusConflict); e.Current != 2 {
		t.Fatalf("delete conflict names %d", e.Current)
	}
	del, err := u.c.Delete(ctx, "note:1", 2)
	if err != nil || !del.Deleted || del.Revision != 3 {
		t.Fatalf("delete: %+v, %v", del, err)
	}
	_, err = u.c.Get(ctx, "note:1")
	if e := wantCode(t, err, CodeDeleted, http.StatusGone); e.Current != 3 {
		t.Fatalf("deleted document's revision %d, want 3", e.Current)
	}
	_, err = u.c.Delete(ctx, "note:1", 3)
	wantCode(t, err, CodeNotFound, http.StatusNotFound)
	// A tombstone is re-created by naming its revision.
	if c, err := u.c.Put(ctx, "note:1", "note", 3, []byte("back")); err != nil || c.Revision != 4 {
		t.Fatalf("re-create: %+v, %v", c, err)
	}
	_, err = u.c.Get(ctx, "nothing")
	wantCode(t, err, CodeNotFound, http.StatusNotFound)
}

// TestChangesPaging: a full page says More, and the pages together list
// every document once, in sequence order.
func TestChangesPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	u := e.newUser(t, "alice")
	const n = DefaultPage + 20
	for i := range n {
		if _, err := e.fb.deliver(u.addr, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	var seqs []int64
	since := int64(0)
	for pages := 0; ; pages++ {
		p, err := u.c.Changes(t.Context(), since, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range p.Changes {
			seqs = append(seqs, c.Seq)
		}
		since = p.Next
		if !p.More {
			if pages != 1 {
				t.Fatalf("%d pages before the last, want 1", pages)
			}
			break
		}
	}
	if len(seqs) != n || !slices.IsSorted(seqs) {
		t.Fatalf("%d changes, sorted %v", len(seqs), slices.IsSorted(seqs))
	}
}

// TestDevices: list, enrol a second device with the signing key, log in
// with it, rename, revoke.
func TestDevices(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	u := e.newUser(t, "alice")
	ctx := t.Context()
	ds, err := u.c.Devices(ctx)
	if err != nil || len(ds) != 1 || !ds[0].Current || ds[0].Name != "alice's laptop" || ds[0].ID != u.deviceID {
		t.Fatalf("devices: %+v, %v", ds, err)
	}
	if ds[0].LastSeen.IsZero() || ds[0].Created.IsZero() {
		t.Fatalf("device times %+v", ds[0])
	}

	phone := sigKey("alice phone")
	c2 := e.client(t)
	id, err := c2.Enroll(ctx, u.addr, pubOf(phone), "phone", u.signing, false)
	if err != nil || id != DeviceID(pubOf(phone)) {
		t.Fatalf("enroll: %q, %v", id, err)
	}
	_, err = c2.Enroll(ctx, u.addr, pubOf(phone), "phone", u.signing, false)
	wantCode(t, err, CodeExists, http.StatusConflict)
	// The recovery key may enrol too (a device restored from the phrase).
	tablet := sigKey("alice tablet")
	if _, err := c2.Enroll(ctx, u.addr, pubOf(tablet), "tablet", u.recovery, true); err != nil {
		t.Fatal(err)
	}
	// A key that is neither may not.
	_, err = c2.Enroll(ctx, u.addr, pubOf(sigKey("x")), "x", sigKey("stranger"), false)
	wantCode(t, err, CodeLoginFailed, http.StatusUnauthorized)
	_, err = c2.Enroll(ctx, u.addr, pubOf(sigKey("x")), "x", u.signing, true) // signing key claimed as recovery
	wantCode(t, err, CodeLoginFailed, http.StatusUnauthorized)

	if err := c2.Login(ctx, u.addr, phone); err != nil {
		t.Fatal(err)
	}
	if err := u.c.RenameDevice(ctx, id, "work phone"); err != nil {
		t.Fatal(err)
	}
	ds, err = c2.Devices(ctx)
	if err != nil || len(ds) != 3 {
		t.Fatalf("devices: %+v, %v", ds, err)
	}
	for _, d := range ds {
		if (d.ID == id) != d.Current {
			t.Fatalf("current flag wrong on %+v", d)
		}
		if d.ID == id && d.Name != "work phone" {
			t.Fatalf("renamed device is called %q", d.Name)
		}
	}
	wantCode(t, u.c.RenameDevice(ctx, id, "bad\nname"), CodeBadField, http.StatusBadRequest)
	wantCode(t, u.c.RenameDevice(ctx, "AAAAAAAAAAAAAAAA", "x"), CodeNotFound, http.StatusNotFound)

	if err := u.c.RevokeDevice(ctx, id); err != nil {
		t.Fatal(err)
	}
	_, err = c2.Devices(ctx)
	wantCode(t, err, CodeUnauthorized, http.StatusUnauthorized)
	wantCode(t, c2.Login(ctx, u.addr, phone), CodeLoginFailed, http.StatusUnauthorized)
	wantCode(t, u.c.RevokeDevice(ctx, id), CodeNotFound, http.StatusNotFound)
	// Revoking one's own device logs out.
	if err := u.c.RevokeDevice(ctx, u.deviceID); err != nil {
		t.Fatal(err)
	}
	_, err = u.c.Devices(ctx)
	wantCode(t, err, CodeUnauthorized, http.StatusUnauthorized)
}

// TestSend: the backend's verdicts reach the client as stable codes.
func TestSend(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	u := e.newUser(t, "alice")
	ctx := t.Context()
	msg := []byte("local message for bob@a.test")
	s, err := u.c.Send(ctx, msg)
	if err != nil || !s.Delivered || s.Digest != sha256.Sum256(msg) {
		t.Fatalf("send: %+v, %v", s, err)
	}
	s, err = u.c.Send(ctx, []byte("from:"+u.addr+"\nto another domain"))
	if err != nil || s.Delivered {
		t.Fatalf("send: %+v, %v", s, err)
	}
	_, err = u.c.Send(ctx, []byte("bad message"))
	wantCode(t, err, CodeBadMessage, http.StatusUnprocessableEntity)
	_, err = u.c.Send(ctx, []byte("from:mallory@a.test\nforged"))
	wantCode(t, err, CodeNotAuthor, http.StatusForbidden)
	e.fb.mu.Lock()
	n := len(e.fb.sent)
	e.fb.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d messages accepted, want 2", n)
	}
}

// TestSendLegacy: a plain message for an address outside Umbra is
// queued with its recipient; a dark domain's address and a bad one are
// refused.
func TestSendLegacy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	u := e.newUser(t, "alice")
	ctx := t.Context()
	msg := []byte("From: alice@a.test\r\nSubject: hi\r\n\r\nhello\r\n")
	s, err := u.c.SendLegacy(ctx, "Carol@Legacy.test", msg)
	if err != nil || s.Delivered || s.Digest != sha256.Sum256(msg) {
		t.Fatalf("legacy send: %+v, %v", s, err)
	}
	_, err = u.c.SendLegacy(ctx, "bob@dark.test", msg)
	wantCode(t, err, CodeDarkMail, http.StatusUnprocessableEntity)
	_, err = u.c.SendLegacy(ctx, "not an address", msg)
	wantCode(t, err, CodeBadField, http.StatusBadRequest)
	e.fb.mu.Lock()
	defer e.fb.mu.Unlock()
	if len(e.fb.sent) != 1 || !bytes.HasPrefix(e.fb.sent[0].msg, []byte("carol@legacy.test\n")) {
		t.Fatalf("recorded %q", e.fb.sent)
	}
}

// TestSignetsAndRotation: look-ups of the own chain, the domain and
// another domain, rotation, and the history of the rotated chain.
func TestSignetsAndRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	u := e.newUser(t, "alice")
	ctx := t.Context()
	org, _ := testOrg()

	got, err := u.c.Signet(ctx, u.addr, signet.Fingerprint{})
	if err != nil || !bytes.Equal(got, u.signet.Bytes()) {
		t.Fatalf("own signet: %v", err)
	}
	got, err = u.c.Signet(ctx, testDomain, signet.Fingerprint{})
	if err != nil || !bytes.Equal(got, org.Bytes()) {
		t.Fatalf("organisation signet: %v", err)
	}
	remote := []byte("signet of carol@b.test as DMTP fetched it")
	e.fb.mu.Lock()
	e.fb.remote["carol@b.test"] = remote
	e.fb.mu.Unlock()
	if got, err := u.c.Signet(ctx, "carol@b.test", signet.FingerprintOf(remote)); err != nil || !bytes.Equal(got, remote) {
		t.Fatalf("remote signet by fingerprint: %v", err)
	}
	_, err = u.c.Signet(ctx, "dave@b.test", signet.Fingerprint{})
	wantCode(t, err, CodeNotFound, http.StatusNotFound)
	_, err = u.c.Signet(ctx, "not a name", signet.Fingerprint{})
	wantCode(t, err, CodeBadField, http.StatusBadRequest)

	next := sigKey("alice signing 2")
	req := signingRequestFor(t, u.addr, next, u.recovery, &signet.Successor{Prev: u.signet, Kind: signet.CustodyPrevious, Key: u.signing})
	rotated, err := u.c.Rotate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := rotated.Verify(org, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := signet.VerifyChain(u.signet, rotated); err != nil {
		t.Fatal(err)
	}
	// The same request again no longer succeeds the current signet.
	_, err = u.c.Rotate(ctx, req)
	wantCode(t, err, CodeBadSignet, http.StatusBadRequest)
	// A first-of-chain request is no rotation.
	_, err = u.c.Rotate(ctx, signingRequestFor(t, u.addr, sigKey("x"), u.recovery, nil))
	wantCode(t, err, CodeBadSignet, http.StatusBadRequest)

	hist, err := u.c.History(ctx, u.addr, signet.Fingerprint{}, signet.Fingerprint{})
	if err != nil || len(hist) != 2 || !bytes.Equal(hist[0], u.signet.Bytes()) || !bytes.Equal(hist[1], rotated.Bytes()) {
		t.Fatalf("history: %d signets, %v", len(hist), err)
	}
	hist, err = u.c.History(ctx, u.addr, rotated.Fingerprint(), signet.Fingerprint{})
	if err != nil || len(hist) != 1 {
		t.Fatalf("history from the second: %d, %v", len(hist), err)
	}
	got, err = u.c.Signet(ctx, u.addr, u.signet.Fingerprint())
	if err != nil || !bytes.Equal(got, u.signet.Bytes()) {
		t.Fatalf("old signet by fingerprint: %v", err)
	}
}

// TestHistoryPaging: a chain longer than one answer is fetched in pages.
func TestHistoryPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	u := e.newUser(t, "alice")
	prev, key := u.signet, u.signing
	want := [][]byte{u.signet.Bytes()}
	for i := range MaxHistoryPage + 5 {
		k := sigKey("alice gen " + string(rune('A'+i)))
		req := signingRequestFor(t, u.addr, k, u.recovery, &signet.Successor{Prev: prev, Kind: signet.CustodyPrevious, Key: key})
		raw, err := e.fb.Rotate(t.Context(), u.addr, req)
		if err != nil {
			t.Fatal(err)
		}
		if prev, err = signet.ParseUser(raw); err != nil {
			t.Fatal(err)
		}
		key = k
		want = append(want, raw)
	}
	got, err := u.c.History(t.Context(), u.addr, signet.Fingerprint{}, signet.Fingerprint{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got, want, bytes.Equal) {
		t.Fatalf("history of %d signets came back as %d", len(want), len(got))
	}
}

// TestInternalErrorHidden: an unexpected backend error is a 500 that says
// nothing about its cause.
func TestInternalErrorHidden(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	u := e.newUser(t, "alice")
	_, err := u.c.Signet(t.Context(), "boom.test", signet.Fingerprint{})
	ie := wantCode(t, err, CodeInternal, http.StatusInternalServerError)
	if bytes.Contains([]byte(ie.Message), []byte("secret")) {
		t.Fatalf("internal error leaked its cause: %q", ie.Message)
	}
	if !errors.Is(err, errInternal) {
		t.Fatal("errors.Is does not match by code")
	}
}
