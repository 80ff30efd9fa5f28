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

// headerColumns are the trigram index columns each Field looks in; a
// Field with body also looks in the body text.
var headerColumns = map[Field][]string{
	FieldText:    {"hdr"},
	FieldSubject: {"subject"},
	FieldFrom:    {"sender"},
	FieldTo:      {"rcpt"},
	FieldBody:    nil,
}

func withBody(f Field) bool { return f == FieldText || f == FieldBody }

// Search returns, in ascending order, the UIDs of the messages in the
// mailbox whose field contains text, case-insensitively: substring
// matching, as IMAP SEARCH says (RFC 3501 §6.4.4, RFC 9051 §6.4.4). The
// trigrams of text's words (trigramMatch) find candidates in the header
// and body indexes, and each candidate is confirmed by matching its
// indexed text; text without a word of three characters is matched by
// scanning the mailbox's indexed text. An empty text matches every
// message.
func (s *Store) Search(ctx context.Context, mailboxID int64, field Field, text string) ([]uint32, error) {
	cols, ok := headerColumns[field]
	if !ok {
		return nil, fmt.Errorf("%w: search field %d", ErrInvalid, field)
	}
	if len(text) > maxSearchLen || !utf8.ValidString(text) || strings.ContainsRune(text, 0) {
		return nil, fmt.Errorf("%w: search text must be UTF-8 without NUL, at most %d bytes", ErrInvalid, maxSearchLen)
	}
	if text == "" {
		return s.searchQuery(ctx, `SELECT m.uid FROM message m WHERE m.mailbox_id = ?1 ORDER BY m.uid`, mailboxID)
	}
	var conds []string
	args := []any{mailboxID, strings.ToLower(text)}
	// inMailbox limits a scan to the mailbox's contents.
	const inMailbox = `(SELECT content_id FROM message WHERE mailbox_id = ?1)`
	if len(cols) > 0 {
		var or []string
		for _, c := range cols {
			or = append(or, fmt.Sprintf("%s(search.%s, ?2)", containsFunc, c))
		}
		where := `search.rowid IN ` + inMailbox
		if q := trigramMatch(cols, text); q != "" {
			args = append(args, q)
			where = fmt.Sprintf(`search MATCH ?%d`, len(args))
		}
		conds = append(conds, `m.content_id IN (SELECT rowid FROM search WHERE `+where+` AND (`+strings.Join(or, " OR ")+`))`)
	}
	if withBody(field) {
		where := `b.id IN ` + inMailbox
		if q := trigramMatch(nil, text); q != "" {
			args = append(args, q)
			where = fmt.Sprintf(`b.id IN (SELECT rowid FROM body_search WHERE body_search MATCH ?%d)`, len(args))
		}
		conds = append(conds, `m.content_id IN (SELECT b.id FROM body_text b WHERE `+where+` AND `+containsFunc+`(b.body, ?2))`)
	}
	return s.searchQuery(ctx, `SELECT m.uid FROM message m WHERE m.mailbox_id = ?1 AND (`+strings.Join(conds, " OR ")+`) ORDER BY m.uid`, args...)
}

func (s *Store) searchQuery(ctx context.Context, q string, args ...any) ([]uint32, error) {
	var uids []uint32
	err := s.read(ctx, func(c *conn) error {
		return c.query(q, func(st *sqlite3.Stmt) error {
			uids = append(uids, uint32(st.ColumnInt64(0)))
			return nil
		}, args...)
	})
	if err != nil {
		return nil, fmt.Errorf("mailstore: search mailbox %d: %w", args[0], err)
	}
	return uids, nil
}

// containsFold is the SQL function mailstore_contains(haystack, needle):
// 1 if haystack contains needle, which is lower case already, ignoring
// case. SQLite's own LIKE folds ASCII only.
func containsFold(ctx sqlite3.Context, arg ...sqlite3.Value) {
	ctx.ResultBool(strings.Contains(strings.ToLower(arg[0].Text()), arg[1].Text()))
}
