package ratelimit

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultLogLimit lets one message through 20 times at once, then once
// every 3 s (20 a minute): a flood of one client fault costs a few lines
// a minute whatever its rate, while a fault seen now and then is always
// logged.
var DefaultLogLimit = Limit{Burst: 20, Every: 3 * time.Second}

// ClientFault marks a log record as caused by a client's fault (garbage,
// a slow or broken connection, a refused look-up): LogHandler limits such
// records. Add it to the record itself, not with Logger.With.
var ClientFault = slog.String("fault", "client")

// LogHandler limits the records below WARN marked ClientFault that one
// message may produce (issue 11: anyone on the internet can make a
// listener log a client's fault; unlimited, they fill the operator's disk
// and hide what matters). Other records (mail delivered, a look-up that
// failed on our side) and records of WARN and above always pass.
// A record that passes after some of its kind were dropped carries the
// number dropped as the attribute "suppressed", so nothing is silently
// lost from the count.
//
// The key is the record's message: the messages of client faults are
// constants in the code, so the keys are few whatever the client sends.
// Handlers derived with WithAttrs and WithGroup share the limits.
type LogHandler struct {
	next slog.Handler
	s    *logState
}

type logState struct {
	lim *Limiter
	mu  sync.Mutex
	// dropped counts the records dropped per message since the last one
	// that passed; bounded like the limiter's buckets.
	dropped map[string]int
}

// NewLogHandler wraps next with l per message (DefaultLogLimit if zero),
// on the clock now (time.Now if nil).
func NewLogHandler(next slog.Handler, l Limit, now func() time.Time) *LogHandler {
	if l == (Limit{}) {
		l = DefaultLogLimit
	}
	return &LogHandler{next: next, s: &logState{lim: New(l, now), dropped: map[string]int{}}}
}

// Enabled is next's.
func (h *LogHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle passes r to next unless its message is over the limit.
func (h *LogHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn || !isClientFault(r) {
		return h.next.Handle(ctx, r)
	}
	key := r.Level.String() + " " + r.Message
	s := h.s
	s.mu.Lock()
	if s.lim.Wait(key) > 0 {
		if _, ok := s.dropped[key]; ok || len(s.dropped) < maxBuckets {
			s.dropped[key]++
		}
		s.mu.Unlock()
		return nil
	}
	s.lim.Take(key)
	n := s.dropped[key]
	delete(s.dropped, key)
	s.mu.Unlock()
	if n > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("suppressed", n))
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs is next's, sharing the limits.
func (h *LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &LogHandler{next: h.next.WithAttrs(attrs), s: h.s}
}

// WithGroup is next's, sharing the limits.
func (h *LogHandler) WithGroup(name string) slog.Handler {
	return &LogHandler{next: h.next.WithGroup(name), s: h.s}
}

// isClientFault reports whether r carries ClientFault.
func isClientFault(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Equal(ClientFault)
		return !found
	})
	return found
}
