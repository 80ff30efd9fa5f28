package bridge

import (
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"umbra/dmime"
	"umbra/keylog"
	"umbra/signet"
)

// logWorld is b.test's organisation with a transparency log, and a source
// that serves its signets and log as b.test's DMTP service would.
type logWorld struct {
	org    *signet.Org
	sok    ed25519.PrivateKey
	logKey ed25519.PrivateKey
}

func newLogWorld(t *testing.T) *logWorld {
	t.Helper()
	_, pok, _ := ed25519.GenerateKey(nil)
	_, sok, _ := ed25519.GenerateKey(nil)
	_, logKey, _ := ed25519.GenerateKey(nil)
	enc, err := signet.KEM().GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := keylog.VerifierKey("b.test", logKey.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	org, err := signet.NewOrg(signet.OrgFields{
		POK: pok.Public().(ed25519.PublicKey), Enc: enc.PublicKey(), Domain: "b.test", DMTP: "127.0.0.1:26",
		SOKs:   []signet.SOK{{Key: sok.Public().(ed25519.PublicKey), Perms: signet.PermSignSignets}},
		LogKey: vkey, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
	}, pok)
	if err != nil {
		t.Fatal(err)
	}
	return &logWorld{org: org, sok: sok, logKey: logKey}
}

// user certifies a fresh signet for address.
func (w *logWorld) user(t *testing.T, address string) *signet.User {
	t.Helper()
	_, sk, _ := ed25519.GenerateKey(nil)
	_, rk, _ := ed25519.GenerateKey(nil)
	enc, _ := signet.KEM().GenerateKey()
	req, err := signet.NewRequest(signet.UserFields{
		SigningKey: sk.Public().(ed25519.PublicKey), Enc: enc.PublicKey(), RecoveryKey: rk.Public().(ed25519.PublicKey),
		Address: address, NotBefore: w.org.NotBefore, NotAfter: w.org.NotAfter,
	}, sk, nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := signet.Certify(req, w.org, w.sok)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (w *logWorld) newLog(t *testing.T) *keylog.Log {
	t.Helper()
	signer, err := keylog.NewSigner("b.test", w.logKey)
	if err != nil {
		t.Fatal(err)
	}
	return keylog.New("b.test", &keylog.MemStorage{}, signer)
}

// logSource serves one organisation, its current user signets and a log.
type logSource struct {
	org   *signet.Org
	users map[string]*signet.User
	log   *keylog.Log
}

func (s *logSource) Signet(_ context.Context, name string, _ signet.Fingerprint) ([]byte, error) {
	if name == s.org.Domain {
		return s.org.Bytes(), nil
	}
	if u, ok := s.users[name]; ok {
		return u.Bytes(), nil
	}
	return nil, ErrNoSignet
}

func (s *logSource) History(context.Context, string, signet.Fingerprint, signet.Fingerprint) ([][]byte, error) {
	return nil, errors.New("no history here")
}

func (s *logSource) Log(ctx context.Context, query string) ([]byte, error) {
	q, err := keylog.ParseQuery(query)
	if err != nil {
		return nil, err
	}
	b, err := s.log.Answer(ctx, q)
	if errors.Is(err, keylog.ErrRange) || errors.Is(err, keylog.ErrNotFound) {
		return nil, errLogAbsent
	}
	return b, err
}

// TestDirectoryRequiresLoggedSignets: a signet its organisation's log
// holds is accepted; one it does not (a provider certifying a key without
// publishing it) is refused; a log that does not extend what the device
// saw before (rewritten, or another view shown to someone else) is
// caught.
func TestDirectoryRequiresLoggedSignets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newLogWorld(t)
	log := w.newLog(t)
	bob, carol := w.user(t, "bob@b.test"), w.user(t, "carol@b.test")
	for _, u := range []*signet.User{bob, carol} {
		if _, err := log.Append(ctx, u.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	src := &logSource{org: w.org, users: map[string]*signet.User{"bob@b.test": bob, "carol@b.test": carol}, log: log}
	d := NewDirectory(nil, nil, "a.test", nil)
	if u, _, err := d.userFrom(ctx, src, "bob@b.test", signet.Fingerprint{}); err != nil || !u.Fingerprint().Equal(bob.Fingerprint()) {
		t.Fatalf("bob's logged signet: %v", err)
	}

	// b.test certifies another key for bob and serves it without logging it.
	src.users["bob@b.test"] = w.user(t, "bob@b.test")
	_, _, err := d.userFrom(ctx, src, "bob@b.test", signet.Fingerprint{})
	if !errors.Is(err, ErrNotLogged) || !isPermanent(err) {
		t.Fatalf("an unlogged signet: %v, want a permanent ErrNotLogged", err)
	}
	// Logged after all, it is accepted: the log grew by appending.
	if _, err := log.Append(ctx, src.users["bob@b.test"].Bytes()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.userFrom(ctx, src, "bob@b.test", signet.Fingerprint{}); err != nil {
		t.Fatalf("the newly logged signet: %v", err)
	}

	// A second log under the same key, with another history: shown to
	// this device after the first, it cannot extend it.
	other := w.newLog(t)
	for _, u := range []*signet.User{carol, bob, w.user(t, "dave@b.test"), w.user(t, "erin@b.test")} {
		other.Append(ctx, u.Bytes())
	}
	src.log = other
	src.users["bob@b.test"] = bob
	_, _, err = d.userFrom(ctx, src, "bob@b.test", signet.Fingerprint{})
	if !errors.Is(err, ErrLogFork) {
		t.Fatalf("a forked log: %v, want ErrLogFork", err)
	}
	// A smaller log than seen before.
	small := w.newLog(t)
	small.Append(ctx, bob.Bytes())
	src.log = small
	if _, _, err := d.userFrom(ctx, src, "bob@b.test", signet.Fingerprint{}); !errors.Is(err, ErrLogFork) {
		t.Fatalf("a shrunk log: %v, want ErrLogFork", err)
	}
}

// countingSource counts the log queries a source answers.
type countingSource struct {
	*logSource
	queries int
}

func (c *countingSource) Log(ctx context.Context, q string) ([]byte, error) {
	c.queries++
	return c.logSource.Log(ctx, q)
}

// evidence is what bob's bridge would carry for his signet u, logged in l.
func evidence(t *testing.T, l *keylog.Log, u *signet.User) *dmime.Carried {
	t.Helper()
	ctx := context.Background()
	c, signed, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := l.Find(ctx, u.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	p, err := l.ProveInclusion(ctx, idx, c.Size)
	if err != nil {
		t.Fatal(err)
	}
	return &dmime.Carried{Signet: u.Bytes(), Proof: keylog.EncodeIndexedProof(idx, c.Size, p), Checkpoints: [][]byte{signed}}
}

// TestCarriedEvidence: a signet that carries its inclusion proof and its
// log's checkpoint is accepted without a single log query when this device
// has no other view of that log; a proof for another signet is refused;
// a checkpoint from another history of the same log is a fork.
func TestCarriedEvidence(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newLogWorld(t)
	l := w.newLog(t)
	bob, carol := w.user(t, "bob@b.test"), w.user(t, "carol@b.test")
	l.Append(ctx, bob.Bytes())
	l.Append(ctx, carol.Bytes())
	src := &countingSource{logSource: &logSource{org: w.org, users: map[string]*signet.User{}, log: l}}
	d := NewDirectory(nil, nil, "a.test", nil)
	d.homeSrc = src
	if _, _, err := d.UserCarried(ctx, "bob@b.test", bob.Fingerprint(), evidence(t, l, bob)); err != nil || src.queries != 0 {
		t.Fatalf("carried evidence: %v, %d log queries", err, src.queries)
	}
	// Carol's proof with someone else's signet.
	ev := evidence(t, l, carol)
	dave := w.user(t, "dave@b.test")
	ev.Signet = dave.Bytes()
	if _, _, err := d.UserCarried(ctx, "dave@b.test", dave.Fingerprint(), ev); !errors.Is(err, ErrNotLogged) {
		t.Fatalf("a proof of another signet: %v", err)
	}
	// Another history of b.test's log, signed by the same key, shown to
	// the author of the next message.
	other := w.newLog(t)
	erin := w.user(t, "erin@b.test")
	other.Append(ctx, erin.Bytes())
	other.Append(ctx, bob.Bytes())
	if _, _, err := d.UserCarried(ctx, "erin@b.test", erin.Fingerprint(), evidence(t, other, erin)); !errors.Is(err, ErrLogFork) {
		t.Fatalf("a checkpoint of a forked log: %v", err)
	}
}

// TestGossipCatchesSplitView: bob's provider b.test shows bob one log and
// alice another (with the same key). The checkpoint alice carries in her
// next message to bob is not consistent with bob's view: a finding. A
// checkpoint of an older state of bob's own log is fine.
func TestGossipCatchesSplitView(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newLogWorld(t)
	bobsView, alicesView := w.newLog(t), w.newLog(t)
	bob := w.user(t, "bob@b.test")
	bobsView.Append(ctx, bob.Bytes())
	_, older, _ := bobsView.Checkpoint(ctx)
	bobsView.Append(ctx, w.user(t, "carol@b.test").Bytes())
	alicesView.Append(ctx, bob.Bytes())
	alicesView.Append(ctx, w.user(t, "bob@b.test").Bytes()) // the key b.test made for bob, shown only to alice
	_, forked, _ := alicesView.Checkpoint(ctx)

	d := NewDirectory(nil, nil, "b.test", nil)
	d.homeSrc = &logSource{org: w.org, users: map[string]*signet.User{}, log: bobsView}
	if f, err := d.Gossip(ctx, "alice@a.test", &dmime.Carried{Checkpoints: [][]byte{older}}); err != nil || f != "" {
		t.Fatalf("an older checkpoint of the same log: %q, %v", f, err)
	}
	f, err := d.Gossip(ctx, "alice@a.test", &dmime.Carried{Checkpoints: [][]byte{forked}})
	if err != nil || !strings.Contains(f, "alice@a.test was shown a log of b.test (2 records) that is not the one b.test shows you") {
		t.Fatalf("a split view: %q, %v", f, err)
	}
	// A checkpoint no key of this log signed (another log, or garbage) is
	// not evidence of anything.
	other := newLogWorld(t)
	_, foreign, _ := other.newLog(t).Checkpoint(ctx)
	if f, err := d.Gossip(ctx, "alice@a.test", &dmime.Carried{Checkpoints: [][]byte{foreign}}); err != nil || f != "" {
		t.Fatalf("a checkpoint of another log: %q, %v", f, err)
	}
}
