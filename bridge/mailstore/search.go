package mailstore

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/ncruces/go-sqlite3"
)

// maxSearchLen bounds a search string in bytes.
const maxSearchLen = 1024

// containsFunc is the SQL function containsFold is registered as.
const containsFunc = "mailstore_contains"

// searchColumns are the index columns each Field looks in.
var searchColumns = map[Field][]string{
	FieldText:    {"hdr", "body"},
	FieldSubject: {"subject"},
	FieldFrom:    {"sender"},
	FieldTo:      {"rcpt"},
	FieldBody:    {"body"},
}

// Search returns, in ascending order, the UIDs of the messages in the
// mailbox whose field contains text, case-insensitively (IMAP SEARCH is
// substring matching, RFC 9051 §6.4.4). Text of three characters or more
// is looked up in the trigram index; shorter text, which has no trigram,
// is matched by scanning the indexed text of the mailbox's messages. An
// empty text matches every message.
func (s *Store) Search(ctx context.Context, mailboxID int64, field Field, text string) ([]uint32, error) {
	cols, ok := searchColumns[field]
	if !ok {
		return nil, fmt.Errorf("%w: search field %d", ErrInvalid, field)
	}
	if len(text) > maxSearchLen || !utf8.ValidString(text) || strings.ContainsRune(text, 0) {
		return nil, fmt.Errorf("%w: search text must be UTF-8 without NUL, at most %d bytes", ErrInvalid, maxSearchLen)
	}
	var q string
	var arg any
	switch n := utf8.RuneCountInString(text); {
	case n == 0:
		q = `SELECT m.uid FROM message m WHERE m.mailbox_id = ?1 ORDER BY m.uid`
	case n >= 3:
		// An FTS5 phrase: double quotes doubled inside
		// (https://sqlite.org/fts5.html#fts5_strings); a column filter
		// limits it to the field's columns.
		q = `SELECT m.uid FROM search JOIN message m ON m.content_id = search.rowid
			WHERE m.mailbox_id = ?1 AND search MATCH ?2 ORDER BY m.uid`
		arg = "{" + strings.Join(cols, " ") + `} : "` + strings.ReplaceAll(text, `"`, `""`) + `"`
	default:
		var conds []string
		for _, c := range cols {
			conds = append(conds, containsFunc+"(search."+c+", ?2)")
		}
		q = `SELECT m.uid FROM message m JOIN search ON search.rowid = m.content_id
			WHERE m.mailbox_id = ?1 AND (` + strings.Join(conds, " OR ") + `) ORDER BY m.uid`
		arg = strings.ToLower(text)
	}
	var uids []uint32
	err := s.read(ctx, func(c *conn) error {
		args := []any{mailboxID}
		if arg != nil {
			args = append(args, arg)
		}
		return c.query(q, func(st *sqlite3.Stmt) error {
			uids = append(uids, uint32(st.ColumnInt64(0)))
			return nil
		}, args...)
	})
	if err != nil {
		return nil, fmt.Errorf("mailstore: search mailbox %d: %w", mailboxID, err)
	}
	return uids, nil
}

// containsFold is the SQL function mailstore_contains(haystack, needle):
// 1 if haystack contains needle, which is lower case already, ignoring
// case. SQLite's own LIKE folds ASCII only.
func containsFold(ctx sqlite3.Context, arg ...sqlite3.Value) {
	ctx.ResultBool(strings.Contains(strings.ToLower(arg[0].Text()), arg[1].Text()))
}
