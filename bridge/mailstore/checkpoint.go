package mailstore

import (
	"errors"
	"fmt"

	"github.com/ncruces/go-sqlite3"
)

// checkpointPages is the WAL size, in frames, at which the checkpointer
// copies the WAL into the database: SQLite's default for its own
// automatic checkpoint (https://sqlite.org/wal.html#automatic_checkpoint),
// 16 MiB at the store's page size.
const checkpointPages = 1000

// checkpointBehind is the WAL size at which the writer checkpoints before
// its next transaction. SQLite starts the WAL over only when a write
// transaction begins after a checkpoint copied all of it; a writer that
// commits back to back can begin while the checkpointer is still copying,
// and the WAL would then grow as long as the writes go on.
const checkpointBehind = 4 * checkpointPages

// layout is how a store sits on disk, checkpoints and merges its search
// indexes. Open uses defaultLayout; BenchmarkCommitBatch compares it with
// SQLite's defaults.
type layout struct {
	// pageSize is the page size of a new store (a store made before keeps
	// its own; changing it takes a VACUUM).
	pageSize int
	// checkpointer checkpoints beside the writer (startCheckpointer)
	// rather than in the commit that crosses the threshold.
	checkpointer bool
	// idleMerge merges the search indexes when the store is idle
	// (merge.go) rather than in the commits (FTS5's automerge).
	idleMerge bool
}

// defaultLayout: Adiantum encrypts 4 KiB blocks, and a WAL frame is a page
// plus a 24-byte header, so each frame leaves a partial block at both ends
// that the VFS must read, decrypt, update and encrypt again. 16 KiB pages
// have a quarter of the frames of the default 4 KiB for the same bytes;
// with the checkpointer, the sync engine's commits (mostly message bodies)
// ran about 2× faster (docs/benchmarks.md).
var defaultLayout = layout{pageSize: 16384, checkpointer: true, idleMerge: true}

// startCheckpointer moves the WAL checkpoint off the writer: SQLite's
// automatic checkpoint runs inside the COMMIT that crosses the threshold,
// so the writer (the sync engine) stops while a whole WAL is read back,
// decrypted, encrypted again and written to the database. Here the writer
// only signals, and a connection of its own checkpoints beside the next
// transaction (PASSIVE: it never waits for readers or the writer, and
// copies what they allow; https://sqlite.org/c3ref/wal_checkpoint_v2.html).
func (s *Store) startCheckpointer(w *conn) error {
	c, err := s.dial(false)
	if err != nil {
		return fmt.Errorf("open checkpoint connection: %w", err)
	}
	if err := w.c.WALAutoCheckpoint(0); err != nil {
		return errors.Join(err, c.close())
	}
	s.ckpt = make(chan struct{}, 1)
	s.ckptDone = make(chan error, 1)
	w.c.WALHook(func(_ *sqlite3.Conn, _ string, frames int) error {
		s.walFrames = frames
		if frames >= checkpointPages {
			select {
			case s.ckpt <- struct{}{}:
			default: // one is due already
			}
		}
		return nil
	})
	go func() {
		var first error
		for {
			select {
			case <-s.done:
				s.ckptDone <- errors.Join(first, c.close())
				return
			case <-s.ckpt:
			}
			// A failed checkpoint loses nothing (the frames stay in the
			// WAL, and the next one copies them); the first error is
			// reported by Close.
			if err := s.checkpoint(c); err != nil && first == nil {
				first = err
			}
		}
	}()
	return nil
}

// checkpoint copies the WAL into the database on c, one checkpoint at a
// time.
func (s *Store) checkpoint(c *conn) error {
	s.ckptMu.Lock()
	defer s.ckptMu.Unlock()
	_, _, err := c.c.WALCheckpoint("main", sqlite3.CHECKPOINT_PASSIVE)
	if errors.Is(err, sqlite3.BUSY) {
		// Another connection holds the checkpoint or recovery lock for
		// the moment: a passive checkpoint then copies nothing, which is
		// no failure — the frames stay in the WAL for the next one.
		return nil
	}
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// catchUp is called by the writer, holding wmu, before a transaction: when
// the checkpointer has fallen behind, the writer waits for it and
// checkpoints the rest itself, so that the transaction starts the WAL
// over (checkpointBehind).
func (s *Store) catchUp() error {
	if s.walFrames < checkpointBehind {
		return nil
	}
	s.walFrames = 0
	return s.checkpoint(s.w)
}
