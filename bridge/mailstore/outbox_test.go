package mailstore

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestOutbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTest(t)
	before := time.Now()
	id1, err := s.Enqueue(ctx, Outgoing{From: "a@a.test", Recipients: []string{"b@b.test", "c@c.test"}, MIME: []byte("one")})
	if err != nil {
		t.Fatal(err)
	}
	id2, err := s.Enqueue(ctx, Outgoing{From: "a@a.test", Recipients: []string{"d@d.test"}, MIME: []byte("two")})
	if err != nil {
		t.Fatal(err)
	}
	o, err := s.Outbox(ctx)
	if err != nil || len(o) != 2 || o[0].ID != id1 || o[1].ID != id2 || !bytes.Equal(o[0].MIME, []byte("one")) ||
		!slices.Equal(o[0].Recipients, []string{"b@b.test", "c@c.test"}) || o[0].Queued.Before(before) || !o[0].NextTry.Equal(o[0].Queued) {
		t.Fatalf("Outbox: %+v, %v", o, err)
	}
	next := time.Now().Add(time.Hour)
	if err := s.OutboxFailed(ctx, id1, "451 try later", next); err != nil {
		t.Fatal(err)
	}
	if err := s.OutboxSent(ctx, id1, "b@b.test"); err != nil {
		t.Fatal(err)
	}
	if err := s.OutboxSent(ctx, id1, "b@b.test"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("OutboxSent twice: %v", err)
	}
	o, _ = s.Outbox(ctx)
	if o[0].Attempts != 1 || o[0].LastError != "451 try later" || !o[0].NextTry.Equal(next) || !slices.Equal(o[0].Recipients, []string{"c@c.test"}) {
		t.Fatalf("after failure: %+v", o[0])
	}
	if err := s.OutboxSent(ctx, id1, "c@c.test"); err != nil {
		t.Fatal(err)
	}
	if err := s.OutboxDrop(ctx, id2); err != nil {
		t.Fatal(err)
	}
	if o, _ := s.Outbox(ctx); len(o) != 0 {
		t.Fatalf("outbox not empty: %+v", o)
	}
	for _, err := range []error{s.OutboxDrop(ctx, id2), s.OutboxFailed(ctx, id2, "x", next), s.OutboxSent(ctx, id2, "d@d.test")} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("on a removed entry: %v", err)
		}
	}
	for _, bad := range []Outgoing{
		{From: "a", MIME: []byte("x")},
		{From: "a", Recipients: []string{"b"}},
		{From: "a", Recipients: []string{"b\r\nc"}, MIME: []byte("x")},
		{From: "", Recipients: []string{"b"}, MIME: []byte("x")},
	} {
		if _, err := s.Enqueue(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Enqueue(%+v): %v", bad, err)
		}
	}
}

func TestState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTest(t)
	if _, err := s.GetState(ctx, "tls.crt"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown state: %v", err)
	}
	for _, v := range []string{"first", "second", ""} {
		if err := s.SetState(ctx, "tls.crt", []byte(v)); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetState(ctx, "tls.crt"); err != nil || string(got) != v || got == nil {
			t.Fatalf("GetState = %q, %v; want %q", got, err, v)
		}
	}
	if err := s.SetState(ctx, "big", []byte(strings.Repeat("x", MaxStateSize+1))); !errors.Is(err, ErrInvalid) {
		t.Fatalf("oversize state: %v", err)
	}
	if err := s.SetState(ctx, "", nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("state without a name: %v", err)
	}
}
