package postgres

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Moving an embedded provider to PostgreSQL (umbra server migrate-store):
// Import copies the SQLite store's tables row by row, Verify compares the
// two message by message. The SQLite store and this one have the same
// tables and columns (schema.go follows provider/store/sqlite/schema.go),
// so a row is copied as it is: its ids, revisions, sequence numbers and
// queue ids stay valid.

// importBatch is how many rows one transaction of Import commits.
const importBatch = 500

// table is a table Import copies: its columns, the ones that are booleans
// here and 0/1 integers in SQLite, its key (the order of the copy), and
// where SQLite keeps it if not in the table of its name.
type table struct {
	name  string
	cols  []string
	bools []string
	key   string
	from  string
}

// sqliteQueue is where the SQLite store keeps the queue: the messages in
// a table of their own (its schema version 6).
const sqliteQueue = "queue JOIN queue_messages USING (id)"

// importTables are in an order that satisfies the foreign keys.
var importTables = []table{
	{name: "accounts", cols: []string{"address", "state", "code_hash", "mode", "created", "key_backup", "last_seq", "collected_seq"}, key: "address"},
	{name: "signets", cols: []string{"address", "seq", "fingerprint", "signet", "added"}, key: "address, seq"},
	{name: "documents", cols: []string{"address", "id", "kind", "revision", "seq", "deleted", "deleted_at", "data"}, bools: []string{"deleted"}, key: "address, id"},
	{name: "deliveries", cols: []string{"address", "message_id", "doc_id", "delivered"}, key: "address, message_id"},
	{name: "queue", cols: []string{"id", "message_id", "domain", "message", "bounce_to", "created", "attempts",
		"next_attempt", "last_error", "lease_owner", "lease_until"}, key: "id", from: sqliteQueue},
	{name: "remote_signets", cols: []string{"domain", "signet", "fetched", "expires"}, key: "domain"},
	{name: "devices", cols: []string{"account", "id", "key", "name", "created", "last_seen", "revoked"}, key: "account, id"},
	{name: "challenges", cols: []string{"value", "purpose", "address", "key", "expires"}, key: "value"},
	{name: "sessions", cols: []string{"access_hash", "refresh_hash", "account", "device_id", "issued", "access_expires", "refresh_expires"}, key: "access_hash"},
	{name: "spent_refresh", cols: []string{"refresh_hash", "account", "device_id", "expires"}, key: "refresh_hash"},
	{name: "keylog_records", cols: []string{"n", "record"}, key: "n"},
	{name: "keylog_hashes", cols: []string{"i", "hash"}, key: "i"},
}

// Import copies every row of the SQLite store src (opened read-only, its
// schema current, its server stopped) into this store, importBatch rows
// per transaction. A row already here is skipped, so an import that was
// interrupted is resumed by running it again. progress, if not nil, is
// told of each table's rows as they are copied.
func (s *Store) Import(ctx context.Context, src *sql.DB, progress func(table string, rows int64)) error {
	for _, t := range importTables {
		n, err := s.importTable(ctx, src, t, progress)
		if err != nil {
			return fmt.Errorf("postgres store: import %s (after %d rows): %w", t.name, n, err)
		}
	}
	// The queue's ids came along; new ones continue after them.
	_, err := s.pool.Exec(ctx, `SELECT setval(pg_get_serial_sequence('queue', 'id'), coalesce(max(id), 0) + 1, false) FROM queue`)
	if err != nil {
		return fmt.Errorf("postgres store: import: queue ids: %w", err)
	}
	return nil
}

func (s *Store) importTable(ctx context.Context, src *sql.DB, t table, progress func(string, int64)) (int64, error) {
	from := t.name
	if t.from != "" {
		from = t.from
	}
	rows, err := src.QueryContext(ctx, `SELECT `+strings.Join(t.cols, ", ")+` FROM `+from+` ORDER BY `+t.key)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	insert := importStatement(t)
	isBool := make([]bool, len(t.cols))
	for i, c := range t.cols {
		for _, b := range t.bools {
			isBool[i] = isBool[i] || c == b
		}
	}
	var n int64
	batch := &pgx.Batch{}
	flush := func() error {
		if batch.Len() == 0 {
			return nil
		}
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, batch).Close() })
		if err != nil {
			return err
		}
		n += int64(batch.Len())
		if progress != nil {
			progress(t.name, n)
		}
		batch = &pgx.Batch{}
		return nil
	}
	for rows.Next() {
		vals := make([]any, len(t.cols))
		ptrs := make([]any, len(t.cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, v := range vals {
			if iv, ok := v.(int64); ok && isBool[i] {
				vals[i] = iv != 0
			}
		}
		batch.Queue(insert, vals...)
		if batch.Len() == importBatch {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, flush()
}

// importStatement inserts one row of t unless it is here already. The
// queue's ids are given, not generated.
func importStatement(t table) string {
	params := make([]string, len(t.cols))
	for i := range params {
		params[i] = fmt.Sprintf("$%d", i+1)
	}
	overriding := ""
	if t.name == "queue" {
		overriding = " OVERRIDING SYSTEM VALUE"
	}
	return `INSERT INTO ` + t.name + ` (` + strings.Join(t.cols, ", ") + `)` + overriding +
		` VALUES (` + strings.Join(params, ", ") + `) ON CONFLICT DO NOTHING`
}

// Verified is what Verify compared.
type Verified struct {
	Accounts, Documents, QueueEntries, KeylogRecords int64
	Rows                                             int64 // of every table
}

// Verify compares this store with the SQLite store src: every table has
// as many rows in both, every account its change sequence's end, and
// every document (message by message), queue entry and keylog record the
// same identity and the same SHA-256 of its data. The first difference is
// an error.
func (s *Store) Verify(ctx context.Context, src *sql.DB) (Verified, error) {
	var v Verified
	for _, t := range importTables {
		var a, b int64
		if err := src.QueryRowContext(ctx, `SELECT count(*) FROM `+t.name).Scan(&a); err != nil {
			return v, fmt.Errorf("verify: count %s in the embedded store: %w", t.name, err)
		}
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+t.name).Scan(&b); err != nil {
			return v, fmt.Errorf("verify: count %s in PostgreSQL: %w", t.name, err)
		}
		if a != b {
			return v, fmt.Errorf("verify: %s has %d rows in the embedded store and %d in PostgreSQL", t.name, a, b)
		}
		v.Rows += a
	}
	for _, c := range []struct {
		count    *int64
		what     string
		src, dst string // queries of a key and its identity (and data, in src)
	}{
		{&v.Accounts, "account",
			`SELECT address, last_seq || ' ' || collected_seq FROM accounts`,
			`SELECT address, last_seq || ' ' || collected_seq FROM accounts`},
		{&v.Documents, "document",
			`SELECT address || ' ' || id, kind || ' ' || revision || ' ' || seq || ' ' || deleted, data FROM documents`,
			`SELECT address || ' ' || id, kind || ' ' || revision || ' ' || seq || ' ' || deleted::int || ' ' || encode(sha256(data), 'hex') FROM documents`},
		{&v.QueueEntries, "queue entry",
			`SELECT CAST(id AS TEXT), hex(message_id) || ' ' || domain, message FROM ` + sqliteQueue,
			`SELECT id::text, upper(encode(message_id, 'hex')) || ' ' || domain || ' ' || encode(sha256(message), 'hex') FROM queue`},
		{&v.KeylogRecords, "keylog record",
			`SELECT CAST(n AS TEXT), '', record FROM keylog_records`,
			`SELECT n::text, ' ' || encode(sha256(record), 'hex') FROM keylog_records`},
	} {
		want := map[string]string{}
		rows, err := s.pool.Query(ctx, c.dst)
		if err != nil {
			return v, fmt.Errorf("verify: read %ss in PostgreSQL: %w", c.what, err)
		}
		var key, digest string
		if _, err := pgx.ForEachRow(rows, []any{&key, &digest}, func() error { want[key] = digest; return nil }); err != nil {
			return v, fmt.Errorf("verify: read %ss in PostgreSQL: %w", c.what, err)
		}
		n, err := compareRows(ctx, src, c.src, c.what, want)
		if err != nil {
			return v, err
		}
		*c.count = n
	}
	return v, nil
}

// compareRows reads query's rows from src — a key, then its identity and
// for all but accounts the data, whose SHA-256 is appended — and compares
// each with want[key].
func compareRows(ctx context.Context, src *sql.DB, query, what string, want map[string]string) (int64, error) {
	rows, err := src.QueryContext(ctx, query)
	if err != nil {
		return 0, fmt.Errorf("verify: read %ss in the embedded store: %w", what, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	var n int64
	for rows.Next() {
		var key, ident string
		var data []byte
		dest := []any{&key, &ident}
		if len(cols) == 3 {
			dest = append(dest, &data)
		}
		if err := rows.Scan(dest...); err != nil {
			return n, fmt.Errorf("verify: read %ss in the embedded store: %w", what, err)
		}
		if len(cols) == 3 {
			ident += fmt.Sprintf(" %x", sha256.Sum256(data))
		}
		if got, ok := want[key]; !ok || got != ident {
			return n, fmt.Errorf("verify: %s %s differs: embedded store %q, PostgreSQL %q", what, key, ident, got)
		}
		n++
	}
	return n, rows.Err()
}
