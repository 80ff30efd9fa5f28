package bridge

import (
	"context"
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
