package dmap

import (
	"context"
	"errors"
	"testing"
	"time"
)

type pollResult struct {
	page Page
	err  error
}

// TestLongPollWakes: a long-poll waiting on an empty feed returns with the
// change as soon as mail arrives (no timing assertion: it returns, with
// the change, long before its 60-second wait).
func TestLongPollWakes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	u := e.newUser(t, "alice")
	first, err := u.c.Put(t.Context(), "before", "note", 0, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan pollResult, 1)
	go func() {
		p, err := u.c.Changes(t.Context(), first.Seq, time.Minute)
		done <- pollResult{p, err}
	}()
	eventually(t, func() bool { return e.fb.watching(u.addr) == 1 })
	// Another account's change does not wake it.
	b := e.newUser(t, "bob")
	if _, err := b.c.Put(t.Context(), "bobs", "note", 0, []byte("y")); err != nil {
		t.Fatal(err)
	}
	mail, err := e.fb.deliver(u.addr, []byte("sealed mail"))
	if err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(r.page.Changes) != 1 || r.page.Changes[0] != mail || r.page.Next != mail.Seq {
		t.Fatalf("long-poll returned %+v, want the delivered mail %+v", r.page, mail)
	}
	eventually(t, func() bool { return e.fb.watching(u.addr) == 0 })
}

// TestLongPollTimeout: with nothing to report, the long-poll answers an
// empty page when its wait is over; a change already there is answered at
// once; a client that gives up leaves no subscription behind.
func TestLongPollTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	u := e.newUser(t, "alice")
	p, err := u.c.Changes(t.Context(), 0, time.Second)
	if err != nil || len(p.Changes) != 0 || p.Next != 0 || p.More {
		t.Fatalf("empty long-poll: %+v, %v", p, err)
	}
	c, err := u.c.Put(t.Context(), "doc", "note", 0, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := u.c.Changes(t.Context(), 0, time.Minute); err != nil || len(p.Changes) != 1 || p.Changes[0] != c {
		t.Fatalf("long-poll with a change waiting: %+v, %v", p, err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := u.c.Changes(ctx, c.Seq, time.Minute)
		done <- err
	}()
	eventually(t, func() bool { return e.fb.watching(u.addr) == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled long-poll: %v", err)
	}
	eventually(t, func() bool { return e.fb.watching(u.addr) == 0 })
}
