package mailstore

import "context"

type actorKey struct{}

// WithActor returns a context whose writes report actor in their events
// (Event.Actor), so a subscriber can tell its own changes from others'.
func WithActor(ctx context.Context, actor any) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// actorOf is the actor WithActor put in ctx, or nil.
func actorOf(ctx context.Context) any {
	return ctx.Value(actorKey{})
}

type subscriber struct {
	id int
	fn func(Event)
}

// Subscribe registers fn to be called with every committed change, in
// commit order, synchronously after the commit and before the write that
// made it returns. fn runs under the store's write lock: it may read from
// the Store but must not write to it (that would deadlock), and it should
// be quick, since writes wait for it. cancel removes fn; it may be called
// from inside fn.
func (s *Store) Subscribe(fn func(Event)) (cancel func()) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	s.nextSub++
	id := s.nextSub
	// Copy on write: deliver iterates a snapshot without holding subMu.
	s.subs = append(s.subs[:len(s.subs):len(s.subs)], subscriber{id: id, fn: fn})
	return func() {
		s.subMu.Lock()
		defer s.subMu.Unlock()
		subs := make([]subscriber, 0, len(s.subs))
		for _, sub := range s.subs {
			if sub.id != id {
				subs = append(subs, sub)
			}
		}
		s.subs = subs
	}
}

// deliver calls the subscribers with events; the caller holds wmu.
func (s *Store) deliver(events []Event) {
	if len(events) == 0 {
		return
	}
	s.subMu.Lock()
	subs := s.subs
	s.subMu.Unlock()
	for _, ev := range events {
		for _, sub := range subs {
			sub.fn(ev)
		}
	}
}
