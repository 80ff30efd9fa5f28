package mailstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
)

// TestChangeFlagsDelta: ChangeFlags is a read-modify-write inside the
// write transaction, so writers changing different flags at once all
// keep their changes; removal ignores case; events carry the actor.
func TestChangeFlagsDelta(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	m := add(t, s, "k1", Inbox, Remote, `\Seen`, "Old")
	var actors []any
	cancel := s.Subscribe(func(ev Event) {
		if ev.Kind == FlagsChanged {
			actors = append(actors, ev.Actor)
		}
	})
	defer cancel()

	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := WithActor(context.Background(), w)
			for r := range 4 {
				if _, err := s.ChangeFlags(ctx, m.ID, FlagChange{Add: []string{fmt.Sprintf("w%dr%d", w, r)}}, Local); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	got, err := s.ChangeFlags(t.Context(), m.ID, FlagChange{Remove: []string{"old", `\SEEN`}}, Local)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Flags) != 32 || slices.Contains(got.Flags, "Old") || slices.Contains(got.Flags, `\Seen`) {
		t.Errorf("flags after 32 concurrent additions and a removal: %v", got.Flags)
	}
	if len(actors) != 33 || actors[0] == nil || actors[32] != nil {
		t.Errorf("event actors %v", actors)
	}
	if _, err := s.ChangeFlags(t.Context(), m.ID, FlagChange{Add: []string{`\Bogus`}}, Local); err == nil {
		t.Error("unknown system flag accepted")
	}
}
