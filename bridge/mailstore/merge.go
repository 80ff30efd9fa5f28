package mailstore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The search indexes (search, body_search) are FTS5 tables, each a set of
// b-trees ("segments"): every commit that indexes a message adds one, and
// merging them keeps a search from looking in hundreds
// (https://sqlite.org/fts5.html#the_automerge_configuration_option). By
// default FTS5 merges inside the commit that adds a segment (automerge):
// 5 to 10% of Adds then wrote 100 to 140 pages more than the others and
// took 90 to 300 ms on a loaded machine (docs/benchmarks.md, "IMAP
// latency"). Here the commits only add segments (automerge 0), and
// the merger below merges them once the store has gone mergeQuiet
// without a write, one step of mergePages at a time. A write that comes
// meanwhile interrupts the step under way (it is rolled back, and done
// again in the next quiet spell), so it waits for no merge.
//
// If the store is never quiet long enough (a long burst of writes),
// FTS5's crisismerge still bounds the segments: a level that reaches
// crisisSegments is merged inside the commit that fills it.

// mergeQuiet is how long the store must go without a write before the
// merger works: longer than the gaps within a mail client's burst of
// commands, short enough that an idle bridge soon catches up.
const mergeQuiet = 100 * time.Millisecond

// mergePages bounds one merge step: the FTS5 pages (of pgsz, 4 KB by
// default) it writes ("merge" command,
// https://sqlite.org/fts5.html#the_merge_command). A step of 16 took
// about 12 ms on a 10,000-message store; a smaller one costs more in all
// (each step has its own commit), a larger one is more often
// interrupted.
const mergePages = 16

// FTS5's defaults of its automerge and crisismerge options.
const (
	autoSegments   = 4
	crisisSegments = 16
)

// searchTables are the FTS5 tables the merger looks after.
var searchTables = []string{"search", "body_search"}

// tuneMerge sets the merge options of the search indexes, which FTS5
// keeps in the database (the tables' _config), when they differ: a write
// only the first time a store is opened by this version. Without idle
// merges (a layout of SQLite's defaults), FTS5 merges in the commits.
func tuneMerge(c *conn, idle bool) error {
	auto := int64(autoSegments)
	if idle {
		auto = 0
	}
	for _, t := range searchTables {
		for opt, v := range map[string]int64{"automerge": auto, "crisismerge": crisisSegments} {
			cur, err := c.int64Row(`SELECT v FROM `+t+`_config WHERE k = ?`, opt)
			if err == nil && cur == v {
				continue
			}
			if err != nil && !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("read %s %s: %w", t, opt, err)
			}
			if _, err := c.exec(`INSERT INTO `+t+`(`+t+`, rank) VALUES (?, ?)`, opt, v); err != nil {
				return fmt.Errorf("set %s %s: %w", t, opt, err)
			}
		}
	}
	return nil
}

// startMerger starts the goroutine that merges the search indexes'
// segments when the store is idle. It merges on the writer's connection,
// under the write lock, as a write of this Store: a Watch does not take
// it for another process's (data_version), and the writer never finds
// the database locked by it.
func (s *Store) startMerger() {
	s.mergeWake = make(chan struct{}, 1)
	s.mergeDone = make(chan error, 1)
	go func() { s.mergeDone <- s.mergeLoop() }()
}

// wakeMerger tells the merger a write committed.
func (s *Store) wakeMerger() {
	select {
	case s.mergeWake <- struct{}{}:
	default: // one is due already
	}
}

// preemptMerge is called by a write before it takes the write lock: it
// interrupts the merge step under way, if any, and (by the count of
// writes, which it raises) keeps the next one from starting.
func (s *Store) preemptMerge() {
	s.writes.Add(1)
	s.mergeMu.Lock()
	defer s.mergeMu.Unlock()
	if s.mergeCancel != nil {
		s.mergeCancel()
	}
}

// mergeLoop merges after each quiet spell that follows writes, until the
// store closes. A failed step loses nothing (the segments stay as they
// were); the first error is reported by Close.
func (s *Store) mergeLoop() error {
	var first error
	for {
		select {
		case <-s.done:
			return first
		case <-s.mergeWake:
		}
		for {
			seen, ok := s.quiet()
			if !ok {
				return first
			}
			preempted, err := s.mergeWhileIdle(seen)
			if err != nil && first == nil {
				first = err
			}
			if !preempted {
				break
			}
		}
	}
}

// quiet waits until mergeQuiet has passed without a write and returns
// the count of writes then; false when the store closed meanwhile.
func (s *Store) quiet() (uint64, bool) {
	t := time.NewTimer(mergeQuiet)
	defer t.Stop()
	seen := s.writes.Load()
	for {
		select {
		case <-s.done:
			return 0, false
		case <-t.C:
		}
		now := s.writes.Load()
		if now == seen {
			return seen, true
		}
		seen = now
		t.Reset(mergeQuiet)
	}
}

// mergeWhileIdle runs merge steps until nothing is left to merge, or a
// write came after the count seen (preempted: the merger waits for
// another quiet spell).
func (s *Store) mergeWhileIdle(seen uint64) (preempted bool, err error) {
	for {
		worked, idle, err := s.mergeStep(seen)
		if err != nil || !idle || !worked {
			return !idle, err
		}
	}
}

// mergeStep runs one bounded merge step of each index in one transaction
// on the writer's connection, under the write lock, unless a write came
// after the count seen or comes meanwhile (idle false: the step is
// interrupted and rolled back), or the store is closed. worked says
// whether there was anything to merge.
func (s *Store) mergeStep(seen uint64) (worked, idle bool, err error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Registered before the lock is taken: a write that raises the count
	// after the check below finds the step to interrupt.
	s.mergeMu.Lock()
	s.mergeCancel = cancel
	s.mergeMu.Unlock()
	defer func() {
		s.mergeMu.Lock()
		s.mergeCancel = nil
		s.mergeMu.Unlock()
	}()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.w == nil {
		return false, true, nil
	}
	if s.writes.Load() != seen {
		return false, false, nil
	}
	c := s.w
	err = c.tx(ctx, true, func() error {
		for _, t := range searchTables {
			// "merge" with a positive page count merges only a level
			// with usermerge segments or more, or a merge under way; it
			// did something when the connection's total changes grew by
			// two or more (https://sqlite.org/fts5.html#the_merge_command).
			before := c.c.TotalChanges()
			if _, err := c.exec(`INSERT INTO `+t+`(`+t+`, rank) VALUES ('merge', ?)`, mergePages); err != nil {
				return fmt.Errorf("merge %s: %w", t, err)
			}
			if c.c.TotalChanges()-before >= 2 {
				worked = true
			}
		}
		return nil
	})
	if ctx.Err() != nil {
		return false, false, nil // interrupted by a write: rolled back, or committed just before
	}
	if err != nil {
		return false, true, fmt.Errorf("mailstore: %w", err)
	}
	return worked, true, nil
}
