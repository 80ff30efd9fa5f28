package mailstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"umbra/sqlitex"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/ext/fts5"
	_ "github.com/ncruces/go-sqlite3/vfs/adiantum" // registers the "adiantum" VFS
)

// ErrClosed is returned by every method called after Close.
var ErrClosed = errors.New("mailstore: store closed")

// KeySize is the length of the key Open takes: an Adiantum key
// (vfs/adiantum, 256 bits).
const KeySize = 32

// readers is the size of the read connection pool: IMAP sessions read
// beside the sync engine's writes (WAL lets readers run beside the
// writer, https://sqlite.org/wal.html). Each connection has its own page
// cache; four cover a mail client's usual parallel connections.
const readers = 4

// Store is the bridge's encrypted local mail store. See the package
// documentation for its concurrency rules.
type Store struct {
	layout layout
	path   string

	// wmu serialises writes and the delivery of their events, so that
	// listeners see events in commit order.
	wmu sync.Mutex
	w   *conn // nil once closed

	// pool holds the idle read connections; nil entries are connections
	// not opened yet. done is closed by Close.
	pool chan *conn
	done chan struct{}
	key  string // hex, for the read connections opened later

	// ckpt wakes the checkpointer (checkpoint.go); ckptDone gets its
	// result once done is closed. ckptMu lets one checkpoint run at a
	// time; walFrames is the WAL's size after the last commit (under wmu).
	ckpt      chan struct{}
	ckptDone  chan error
	ckptMu    sync.Mutex
	walFrames int

	// mergeWake wakes the merger (merge.go) after a write; mergeDone
	// gets its result once done is closed. writes counts the writes
	// begun, so that the merger can tell the store was idle;
	// mergeCancel, under mergeMu, interrupts the merge step under way.
	mergeWake   chan struct{}
	mergeDone   chan error
	writes      atomic.Uint64
	mergeMu     sync.Mutex
	mergeCancel context.CancelFunc

	subMu   sync.Mutex
	subs    []subscriber // copied on write: delivery reads a snapshot
	nextSub int

	closeOnce sync.Once
	closeErr  error
}

// Open opens the store at path (one SQLite file; SQLite keeps path-wal and
// path-shm beside it), creating it with the default mailboxes if it does
// not exist. key (KeySize bytes, from the vault) encrypts every file of
// the database with Adiantum; a wrong key is an error, never garbage.
func Open(path string, key []byte) (*Store, error) { return open(path, key, defaultLayout) }

func open(path string, key []byte, l layout) (*Store, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: key of %d bytes, want %d", ErrInvalid, len(key), KeySize)
	}
	s := &Store{
		layout: l,
		path:   path,
		pool:   make(chan *conn, readers),
		done:   make(chan struct{}),
		key:    hex.EncodeToString(key),
	}
	for range readers {
		s.pool <- nil
	}
	w, err := s.openWriter()
	if err != nil {
		return nil, fmt.Errorf("mailstore: cannot open %s: %w", path, err)
	}
	s.w = w
	if l.checkpointer {
		if err := s.startCheckpointer(w); err != nil {
			return nil, fmt.Errorf("mailstore: cannot open %s: %w", path, errors.Join(err, w.close()))
		}
	}
	if l.idleMerge {
		s.startMerger()
	}
	return s, nil
}

func (s *Store) openWriter() (*conn, error) {
	if err := sqlitex.CreatePrivate(s.path); err != nil {
		return nil, err
	}
	c, err := s.dial(false)
	if err != nil {
		return nil, err
	}
	// The index queue first: migrating to version 3 indexes through it.
	if err := c.c.Exec(indexQueueSchema); err != nil {
		return nil, errors.Join(err, c.close())
	}
	if err := migrate(c); err != nil {
		return nil, errors.Join(err, c.close())
	}
	if err := tuneMerge(c, s.layout.idleMerge); err != nil {
		return nil, errors.Join(err, c.close())
	}
	return c, nil
}

// dial opens one connection to the database and sets it up.
func (s *Store) dial(readOnly bool) (*conn, error) {
	abs, err := filepath.Abs(s.path)
	if err != nil {
		return nil, err
	}
	q := url.Values{"vfs": {"adiantum"}, "modeof": {abs}}
	dsn := (&url.URL{Scheme: "file", OmitHost: true, Path: abs, RawQuery: q.Encode()}).String()
	sc, err := sqlite3.Open(dsn)
	if err != nil {
		return nil, err
	}
	c := newConn(sc)
	if err := s.setup(c, readOnly); err != nil {
		return nil, errors.Join(err, c.close())
	}
	return c, nil
}

func (s *Store) setup(c *conn, readOnly bool) error {
	// The key goes in by PRAGMA rather than in the URI, where any code
	// holding the connection could read it back (vfs/adiantum docs).
	if err := c.c.Exec("PRAGMA hexkey='" + s.key + "'"); err != nil {
		return fmt.Errorf("set key: %w", err)
	}
	// The first read of page 1 tells a wrong key: it decrypts to noise,
	// which SQLite reports as "not a database".
	if _, err := c.int64Row("SELECT count(*) FROM sqlite_schema"); err != nil {
		if errors.Is(err, sqlite3.NOTADB) {
			return errors.New("wrong key or not a mailstore")
		}
		return err
	}
	if err := fts5.Register(c.c); err != nil {
		return fmt.Errorf("fts5: %w", err)
	}
	if err := c.c.CreateFunction(containsFunc, 2, sqlite3.DETERMINISTIC|sqlite3.INNOCUOUS, containsFold); err != nil {
		return fmt.Errorf("register %s: %w", containsFunc, err)
	}
	// temp_store=memory: temporary tables and sort spills stay in memory,
	// never in a temporary file (vfs/adiantum README).
	// WAL: readers never block the writer nor each other; adiantum
	// encrypts the WAL like the database (the -shm index holds only page
	// numbers and checksums). synchronous=FULL fsyncs the WAL on every
	// commit, so a committed Add survives a power cut, not just a crash
	// of the process (https://sqlite.org/pragma.html#pragma_synchronous).
	pragmas := `PRAGMA busy_timeout = 10000; PRAGMA temp_store = memory;`
	if readOnly {
		pragmas += `PRAGMA query_only = ON;`
	} else {
		// page_size takes effect only on a new database, and only
		// before journal_mode = WAL writes its first page.
		pragmas += fmt.Sprintf("PRAGMA page_size = %d;", s.layout.pageSize) + `PRAGMA journal_mode = WAL;
			PRAGMA synchronous = FULL;
			PRAGMA foreign_keys = ON;
			PRAGMA journal_size_limit = 67108864;`
	}
	return c.c.Exec(pragmas)
}

// Close waits for the reads and the write under way, then closes the
// database. Later calls return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.wmu.Lock()
		w := s.w
		s.w = nil
		s.wmu.Unlock()
		close(s.done)
		var errs []error
		if s.ckptDone != nil {
			errs = append(errs, <-s.ckptDone)
		}
		if s.mergeDone != nil {
			errs = append(errs, <-s.mergeDone)
		}
		for range readers {
			if r := <-s.pool; r != nil {
				errs = append(errs, r.close())
			}
		}
		if w != nil {
			errs = append(errs, w.close())
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("mailstore: close %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// read runs fn in a read transaction on a pooled connection: one
// consistent snapshot even when fn issues several queries.
func (s *Store) read(ctx context.Context, fn func(c *conn) error) error {
	var c *conn
	select {
	case c = <-s.pool:
	case <-s.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	if c == nil {
		var err error
		if c, err = s.dial(true); err != nil {
			s.pool <- nil
			return fmt.Errorf("mailstore: open read connection: %w", err)
		}
	}
	defer func() { s.pool <- c }()
	return c.tx(ctx, false, func() error { return fn(c) })
}

// write runs fn in a write transaction and, once it has committed,
// delivers the events fn returns to the subscribers, still holding the
// write lock so that they arrive in commit order.
func (s *Store) write(ctx context.Context, fn func(c *conn) ([]Event, error)) error {
	s.preemptMerge()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.w == nil {
		return ErrClosed
	}
	if err := s.catchUp(); err != nil {
		return err
	}
	var events []Event
	err := s.w.tx(ctx, true, func() error {
		var err error
		if events, err = fn(s.w); err != nil {
			return err
		}
		return flushIndex(s.w)
	})
	if err != nil {
		return err
	}
	s.wakeMerger()
	if actor := actorOf(ctx); actor != nil {
		for i := range events {
			events[i].Actor = actor
		}
	}
	s.deliver(events)
	return nil
}
