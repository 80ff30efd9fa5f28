// Package wiretrace writes what crosses a connection of a line protocol
// (DMTP, IMAP) to its log at LevelTrace: below DEBUG and off by default,
// as mox's trace levels are, for an operator chasing a client's or a
// peer's misbehaviour (`--log-level trace`). A server traces its
// connections with Reader and Writer, a client (the provider's outbound
// DMTP) with FromServer and ToServer.
//
// A trace shows the protocol's lines, "C: " for what the client sent and
// "S: " for what the server sent, on either end, each cut at MaxShown
// bytes: the two ends of one conversation log the same lines. It never
// shows what the lines carry beyond themselves — a message after DATA, an
// IMAP literal, a signet after SGNT — only its size, and it shows the
// protocol's secrets (a LOGIN's password, a SASL exchange) as
// "<redacted>": a trace may end up in a bug report, and mail must not sit
// in plaintext on disk (DESIGN §2). Which bytes are data and which lines
// are secret is the Protocol's to say (dmtp.go, imap.go).
//
// The trace follows the byte stream, not the server's parser: after a
// line that announces data, the announced number of bytes is counted as
// data even when the server then refuses it and the client sends commands
// instead. A trace can only ever show less than was sent, never more.
//
// Concurrency: the Reader and Writer of one Trace may be used by
// different goroutines at once (a server reads the next command while it
// writes an IDLE update); the Trace's state is behind a mutex.
package wiretrace

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
)

// LevelTrace is the level of trace records: below slog.LevelDebug.
const LevelTrace = slog.Level(-8)

// MaxShown is how many bytes of one line a trace shows; longer lines are
// cut, with their length noted. A line's last tailKept bytes are kept for
// the Protocol, which finds announcements of data at the end of a line.
const (
	MaxShown = 512
	tailKept = 32
)

// Redacted is what a trace shows in place of a secret.
const Redacted = "<redacted>"

// Protocol tells a Trace, line by line, what to show and what is data.
// Its methods are called with the Trace's lock held, so they may keep
// state across both directions without a lock of their own.
type Protocol interface {
	// Client is given each line the client sent (without its line end;
	// a long line as its first MaxShown bytes and its last tailKept
	// bytes) and returns what the trace shows of it and how many bytes
	// of data follow it at once in the client's stream.
	Client(line []byte) (show string, data int64)
	// Server is the same for the server's lines; clientData is a number
	// of bytes of data the client's stream holds next, from now on (a
	// data transfer the server's line allowed: DMTP's 354, IMAP's "+").
	Server(line []byte) (show string, data, clientData int64)
}

// Trace traces one connection.
type Trace struct {
	log    *slog.Logger
	p      Protocol
	mu     sync.Mutex
	client stream
	server stream
}

// New returns the trace of one connection for log, nil when log does not
// record LevelTrace: then nothing is wrapped and tracing costs nothing.
func New(log *slog.Logger, p Protocol) *Trace {
	if log == nil || !log.Enabled(context.Background(), LevelTrace) {
		return nil
	}
	return &Trace{log: log, p: p, client: stream{prefix: "C: "}, server: stream{prefix: "S: "}}
}

// Reader traces what the server reads from the client through r. A nil
// Trace returns r.
func (t *Trace) Reader(r io.Reader) io.Reader {
	if t == nil {
		return r
	}
	return &reader{t: t, r: r, fromClient: true}
}

// Writer traces what the server writes to the client through w. A nil
// Trace returns w.
func (t *Trace) Writer(w io.Writer) io.Writer {
	if t == nil {
		return w
	}
	return &writer{t: t, w: w, fromClient: false}
}

// FromServer traces what a client reads from the server through r, as
// "S: " lines. A nil Trace returns r.
func (t *Trace) FromServer(r io.Reader) io.Reader {
	if t == nil {
		return r
	}
	return &reader{t: t, r: r, fromClient: false}
}

// ToServer traces what a client writes to the server through w, as "C: "
// lines. A nil Trace returns w.
func (t *Trace) ToServer(w io.Writer) io.Writer {
	if t == nil {
		return w
	}
	return &writer{t: t, w: w, fromClient: true}
}

// Wrap traces both directions of rw. A nil Trace returns rw.
func (t *Trace) Wrap(rw io.ReadWriter) io.ReadWriter {
	if t == nil {
		return rw
	}
	return struct {
		io.Reader
		io.Writer
	}{t.Reader(rw), t.Writer(rw)}
}

// reader and writer feed one direction's stream: the client's bytes
// (fromClient) or the server's, whichever end reads or writes them.
type reader struct {
	t          *Trace
	r          io.Reader
	fromClient bool
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.t.feed(r.fromClient, p[:n])
	return n, err
}

type writer struct {
	t          *Trace
	w          io.Writer
	fromClient bool
}

func (w *writer) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.t.feed(w.fromClient, p[:n])
	return n, err
}

// stream is one direction's position: inside a line, or inside data.
type stream struct {
	prefix string
	head   []byte // the current line's first MaxShown bytes
	tail   []byte // its last tailKept bytes beyond head
	length int64  // the current line's length so far
	data   int64  // bytes of data still to come
	run    int64  // bytes of the current data run so far
}

// feed follows b through one direction's stream and logs what it ends.
func (t *Trace) feed(fromClient bool, b []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := &t.server
	if fromClient {
		s = &t.client
	}
	for len(b) > 0 {
		if s.data > 0 {
			n := min(int64(len(b)), s.data)
			b, s.data, s.run = b[n:], s.data-n, s.run+n
			if s.data == 0 {
				t.emit(s, fmt.Sprintf("<%d bytes of data>", s.run))
				s.run = 0
			}
			continue
		}
		i := bytes.IndexByte(b, '\n')
		part := b
		if i >= 0 {
			part = b[:i]
		}
		s.add(part)
		if i < 0 {
			return
		}
		b = b[i+1:]
		t.line(fromClient, s)
	}
}

// add appends part of a line, keeping its head and its tail.
func (s *stream) add(part []byte) {
	s.length += int64(len(part))
	if room := MaxShown - len(s.head); room > 0 {
		n := min(room, len(part))
		s.head, part = append(s.head, part[:n]...), part[n:]
	}
	if len(part) > 0 {
		s.tail = append(s.tail, part...)
		if len(s.tail) > tailKept {
			s.tail = append(s.tail[:0], s.tail[len(s.tail)-tailKept:]...)
		}
	}
}

// line ends the current line of s: the protocol says what to show and
// what data follows.
func (t *Trace) line(fromClient bool, s *stream) {
	line, length := append(s.head, s.tail...), s.length
	if bytes.HasSuffix(line, []byte("\r")) {
		line, length = line[:len(line)-1], length-1
	}
	var show string
	if fromClient {
		show, s.data = t.p.Client(line)
	} else {
		var clientData int64
		show, s.data, clientData = t.p.Server(line)
		// Saturating: a sum past the largest count must not wrap into
		// "no data", which would show what follows.
		t.client.data = min(t.client.data+clientData, math.MaxInt64)
		if t.client.data < 0 {
			t.client.data = math.MaxInt64
		}
	}
	if length > MaxShown+tailKept-1 {
		// What the protocol saw of the line is its head and tail; what is
		// shown of it is at most its head.
		show = fmt.Sprintf("%.*s… (a line of %d bytes)", MaxShown, show, length)
	}
	t.emit(s, show)
	s.head, s.tail, s.length = s.head[:0], s.tail[:0], 0
}

func (t *Trace) emit(s *stream, show string) {
	t.log.Log(context.Background(), LevelTrace, s.prefix+show)
}
