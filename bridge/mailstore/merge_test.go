package mailstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// segments is the number of b-trees in the FTS5 index table, from its
// structure record (rowid 10 of its _data table: a 4-byte cookie, the
// version 2 marker if any, then the varints nLevel and nSegment; see
// fts5StructureDecode in SQLite's fts5_index.c).
func segments(t *testing.T, s *Store, table string) int {
	t.Helper()
	var n int
	err := s.read(context.Background(), func(c *conn) error {
		return c.queryRow(`SELECT block FROM `+table+`_data WHERE id = 10`, func(st *sqlite3.Stmt) error {
			b := st.ColumnBlob(0, nil)
			if len(b) < 4 {
				return fmt.Errorf("structure record of %d bytes", len(b))
			}
			b = b[4:]
			if len(b) >= 4 && string(b[:4]) == "\xff\x00\x00\x01" {
				b = b[4:]
			}
			_, k := binary.Uvarint(b) // nLevel; FTS5's varints of small values are the same
			if k <= 0 {
				return fmt.Errorf("structure record %x", b)
			}
			seg, k2 := binary.Uvarint(b[k:])
			if k2 <= 0 {
				return fmt.Errorf("structure record %x", b)
			}
			n = int(seg)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMergeWhenIdle: a commit adds a segment to each search index and
// merges none (automerge 0); once the store is idle, the merger merges
// them, and search finds every message all the while.
func TestMergeWhenIdle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTest(t)
	for _, table := range searchTables {
		err := s.read(ctx, func(c *conn) error {
			auto, err := c.int64Row(`SELECT v FROM ` + table + `_config WHERE k = 'automerge'`)
			if err == nil && auto != 0 {
				err = fmt.Errorf("automerge %d", auto)
			}
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
	}
	const n = 12
	b := new(Batch)
	for i := range n {
		if err := b.Add(NewMessage{Key: fmt.Sprint(i), Mailbox: Inbox, MIME: mimeMsg(fmt.Sprint("needle ", i), "haystack")}, Remote); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	found := func() int {
		got, err := s.Search(ctx, mailbox(t, s, Inbox).ID, FieldSubject, "needle")
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}
	if got := found(); got != n {
		t.Fatalf("found %d of %d", got, n)
	}
	t.Logf("segments after %d commits: search %d, body_search %d", n, segments(t, s, "search"), segments(t, s, "body_search"))
	// A step that finds a write begun since the quiet spell it follows
	// gives way.
	if worked, idle, err := s.mergeStep(s.writes.Load() - 1); worked || idle || err != nil {
		t.Fatalf("merge step after a write: worked %v, idle %v, %v", worked, idle, err)
	}
	// A hang guard, not a timing assertion.
	for deadline := time.Now().Add(30 * time.Second); segments(t, s, "search") >= 4 || segments(t, s, "body_search") >= 4; {
		if time.Now().After(deadline) {
			t.Fatalf("segments not merged: search %d, body_search %d", segments(t, s, "search"), segments(t, s, "body_search"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := found(); got != n {
		t.Fatalf("after merging, found %d of %d", got, n)
	}
}
