package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// Status is what `umbra bridge status` shows.
type Status struct {
	Address    string   `json:"address"`
	IMAP       []string `json:"imap"`
	SMTP       []string `json:"smtp"`
	IMAPS      []string `json:"imaps,omitempty"`
	Online     bool     `json:"online"`
	Cursor     int64    `json:"cursor"`
	Head       int64    `json:"head"`        // where the feed ended at the last page: Cursor of Head is the progress
	CatchingUp bool     `json:"catching_up"` // the last feed page was full: more to pull
	Applied    int64    `json:"applied"`     // documents applied since start
	Received   int64    `json:"received"`    // messages added from the feed since start
	// UnknownDocs counts the documents of the feed, since start, of kinds
	// this version cannot read (synckinds.go); UnknownKind is the last
	// such kind.
	UnknownDocs int64  `json:"unknown_docs,omitempty"`
	UnknownKind string `json:"unknown_kind,omitempty"`
	Downloaded  int64  `json:"downloaded_bytes"`
	// FetchedMessages counts message documents (delivered mail and
	// content) downloaded since start: what a resumed sync fetches again.
	FetchedMessages int64  `json:"fetched_messages"`
	Uploaded        int64  `json:"uploaded_bytes"`
	Pending         int    `json:"pending"` // local changes not yet pushed (at the last look)
	Outbox          int    `json:"outbox"`  // messages waiting to be sent
	Sent            int64  `json:"sent"`    // messages sent since start (one per recipient)
	LastError       string `json:"last_error,omitempty"`
	// Fingerprint is the account's own current signet, as the last
	// audit found it (its key is the account's).
	Fingerprint string `json:"fingerprint,omitempty"`
	// Audit is the last audit of the account's address in its
	// provider's transparency log (audit.go); nil before the first.
	Audit *Audit `json:"audit,omitempty"`
	// Spam is the spam filter's state (spam.go); SafeHTML the safe-HTML
	// setting (safehtml_mime.go).
	Spam     *SpamStatus `json:"spam,omitempty"`
	SafeHTML string      `json:"safe_html,omitempty"`
	ErrorAt  time.Time   `json:"error_at,omitzero"`
	Started  time.Time   `json:"started"`
}

// status is the live Status, updated by the loops.
type status struct {
	mu sync.Mutex
	s  Status
}

func (st *status) update(f func(*Status)) {
	st.mu.Lock()
	f(&st.s)
	st.mu.Unlock()
}

func (st *status) setOnline(on bool) { st.update(func(s *Status) { s.Online = on }) }
func (st *status) setCursor(c, head int64, more bool) {
	st.update(func(s *Status) { s.Cursor, s.Head, s.CatchingUp = c, head, more })
}
func (st *status) applied()       { st.update(func(s *Status) { s.Applied++ }) }
func (st *status) received(n int) { st.update(func(s *Status) { s.Received += int64(n) }) }
func (st *status) downloaded(n int, message bool) {
	st.update(func(s *Status) {
		s.Downloaded += int64(n)
		if message {
			s.FetchedMessages++
		}
	})
}
func (st *status) uploaded(n int)   { st.update(func(s *Status) { s.Uploaded += int64(n) }) }
func (st *status) setPending(n int) { st.update(func(s *Status) { s.Pending = n }) }
func (st *status) setOutbox(n int)  { st.update(func(s *Status) { s.Outbox = n }) }
func (st *status) queued()          { st.update(func(s *Status) { s.Outbox++ }) }
func (st *status) sent()            { st.update(func(s *Status) { s.Sent++ }) }

// setError records the latest failure for status.
func (b *Bridge) setError(where string, err error) {
	b.st.update(func(s *Status) {
		s.LastError, s.ErrorAt = where+": "+err.Error(), b.now()
	})
}

// Status returns a snapshot of the bridge's state.
func (b *Bridge) Status() Status {
	b.st.mu.Lock()
	defer b.st.mu.Unlock()
	s := b.st.s
	s.Address = b.address
	if b.imapLns != nil {
		s.IMAP, s.SMTP, s.IMAPS = b.IMAPAddrs(), b.SMTPAddrs(), b.IMAPSAddrs()
	}
	if b.spam != nil {
		sp := b.SpamStatus()
		s.Spam = &sp
	}
	s.SafeHTML = b.SafeHTML()
	return s
}

// listenStatus listens on the account directory's status socket. The
// directory is the user's alone (mode 0700), which is what guards the
// socket. A socket left by a crashed bridge is replaced; one of a running
// bridge is not.
func listenStatus(path string) (net.Listener, error) {
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, fmt.Errorf("bridge: another bridge runs for this account (%s answers)", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("bridge: status socket: %w", err)
	}
	return ln, nil
}

// serveStatus answers each connection of the status socket with the
// Status as one JSON object.
func (b *Bridge) serveStatus(ctx context.Context) {
	b.st.update(func(s *Status) { s.Started = b.now() })
	for {
		c, err := b.statusLn.Accept()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				b.log.Warn("status socket", "err", err)
			}
			return
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		json.NewEncoder(c).Encode(b.Status())
		c.Close()
	}
}

// ReadStatus asks the bridge running for the account directory dir.
func ReadStatus(dir string) (*Status, error) {
	c, err := net.DialTimeout("unix", dir+"/"+SocketFile, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("no bridge is running for %s: %w", dir, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var s Status
	if err := json.NewDecoder(c).Decode(&s); err != nil {
		return nil, fmt.Errorf("read the bridge's status: %w", err)
	}
	return &s, nil
}
