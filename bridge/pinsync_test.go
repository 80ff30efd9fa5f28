package bridge

import (
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"umbra/signet"
)

// signetCounter counts the look-ups of user signets a Directory makes.
type signetCounter struct {
	*logSource
	mu    sync.Mutex
	users int
}

func (s *signetCounter) Signet(ctx context.Context, name string, fp signet.Fingerprint) ([]byte, error) {
	if signet.DomainOf(name) != "" {
		s.mu.Lock()
		s.users++
		s.mu.Unlock()
	}
	return s.logSource.Signet(ctx, name, fp)
}

func (s *signetCounter) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.users
}

// TestPinStandsForCurrent (issue 12): mail to a correspondent whose pin
// is less than pinFresh old is sealed to the pinned signet without a
// look-up; an older pin, or one made stale (keys refresh), is looked up
// again, and the look-up confirms the pin.
func TestPinStandsForCurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newLogWorld(t)
	log := w.newLog(t)
	bob := w.user(t, "bob@b.test")
	if _, err := log.Append(ctx, bob.Bytes()); err != nil {
		t.Fatal(err)
	}
	src := &signetCounter{logSource: &logSource{org: w.org, users: map[string]*signet.User{"bob@b.test": bob}, log: log}}
	st := openTestStore(t, filepath.Join(t.TempDir(), StoreFile))
	t.Cleanup(func() { st.Close() })
	// The test world's signets are valid from an hour ago for a day: the
	// clock starts just inside, so a day later they still are.
	now := time.Now().Add(-55 * time.Minute)
	clock := func() time.Time { return now }
	b := &Bridge{store: st, cfg: Config{Now: clock}, dir: NewDirectory(nil, nil, "b.test", st)}
	b.dir.homeSrc, b.dir.now = src, clock

	lookups := func(want int, wantFresh bool) {
		t.Helper()
		u, _, fresh, err := b.recipientSignet(ctx, "bob@b.test")
		if err != nil || !u.Fingerprint().Equal(bob.Fingerprint()) {
			t.Fatalf("bob's signet: %v", err)
		}
		if fresh != wantFresh || src.count() != want {
			t.Fatalf("fresh %v after %d look-ups, want %v after %d", fresh, src.count(), wantFresh, want)
		}
	}
	lookups(1, false) // nothing pinned: looked up
	if err := b.setPin(ctx, "bob@b.test", bob.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	lookups(1, true)
	now = now.Add(pinFresh - time.Minute)
	lookups(1, true)
	now = now.Add(2 * time.Minute) // the pin is a day old
	lookups(2, false)
	if err := b.setPin(ctx, "bob@b.test", bob.Fingerprint()); err != nil { // as sendTo confirms it
		t.Fatal(err)
	}
	lookups(2, true)
	if err := st.SetState(ctx, contactState("bob@b.test"), stamped(bob.Fingerprint(), time.UnixMilli(1))); err != nil { // RefreshKey
		t.Fatal(err)
	}
	lookups(3, false)
}

// chain certifies n signets for address, each succeeding the one before
// by rotation (custody signed by the previous signing key).
func (w *logWorld) chain(t *testing.T, address string, n int) []*signet.User {
	t.Helper()
	var out []*signet.User
	var prevKey ed25519.PrivateKey
	for i := range n {
		_, sk, _ := ed25519.GenerateKey(nil)
		_, rk, _ := ed25519.GenerateKey(nil)
		enc, _ := signet.KEM().GenerateKey()
		var succ *signet.Successor
		if i > 0 {
			succ = &signet.Successor{Prev: out[i-1], Kind: signet.CustodyPrevious, Key: prevKey}
		}
		req, err := signet.NewRequest(signet.UserFields{
			SigningKey: sk.Public().(ed25519.PublicKey), Enc: enc.PublicKey(), RecoveryKey: rk.Public().(ed25519.PublicKey),
			Address: address, NotBefore: w.org.NotBefore, NotAfter: w.org.NotAfter,
		}, sk, succ)
		if err != nil {
			t.Fatal(err)
		}
		u, err := signet.Certify(req, w.org, w.sok)
		if err != nil {
			t.Fatal(err)
		}
		out, prevKey = append(out, u), sk
	}
	return out
}

// TestContinuityFromCarriedChain (issue 12): the earlier signets a
// message carries link the pinned signet to the author's newest without a
// look-up (the history source here fails every request); a carried chain
// that does not reach the pin, or that is broken, is not enough.
func TestContinuityFromCarriedChain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newLogWorld(t)
	gens := w.chain(t, "bob@b.test", 4)
	st := openTestStore(t, filepath.Join(t.TempDir(), StoreFile))
	t.Cleanup(func() { st.Close() })
	b := &Bridge{store: st, dir: NewDirectory(nil, nil, "b.test", st)}
	b.dir.homeSrc = &logSource{org: w.org}
	if err := b.setPin(ctx, "bob@b.test", gens[0].Fingerprint()); err != nil {
		t.Fatal(err)
	}
	raw := func(us ...*signet.User) (out [][]byte) {
		for _, u := range us {
			out = append(out, u.Bytes())
		}
		return out
	}
	pin := func() signet.Fingerprint {
		fp, _, err := pinned(ctx, st, "bob@b.test")
		if err != nil {
			t.Fatal(err)
		}
		return fp
	}
	// Carried chain short of the pin: the history is asked, and fails.
	if _, err := b.continuity(ctx, gens[3], Trust{}, raw(gens[2], gens[1])); !errors.Is(err, errUnchecked) || !pin().Equal(gens[0].Fingerprint()) {
		t.Fatalf("a chain short of the pin: %v, pin %s", err, pin())
	}
	// A gap in it: the same.
	if _, err := b.continuity(ctx, gens[3], Trust{}, raw(gens[2], gens[0])); !errors.Is(err, errUnchecked) {
		t.Fatalf("a broken chain: %v", err)
	}
	// The whole way back: the pin moves, nobody asked.
	if tr, err := b.continuity(ctx, gens[3], Trust{}, raw(gens[2], gens[1], gens[0])); err != nil || tr.Level == LevelChanged || !pin().Equal(gens[3].Fingerprint()) {
		t.Fatalf("the whole chain: %+v, %v, pin %s", tr, err, pin())
	}
}
