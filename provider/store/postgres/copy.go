package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"

	"umbra/provider/store"
)

// Writes of more than MaxDeliverBuffer (Deliver, Put, Enqueue) copy their
// data to the server as they read it: pgx would encode a bytea parameter
// whole in memory (docs/spec/store.md §13.2).

// copyRow is the input of COPY … FROM STDIN (FORMAT binary) that inserts
// one row (https://www.postgresql.org/docs/current/sql-copy.html, "Binary
// Format"): the header, one tuple of fields followed by the data msg
// yields, read as the server takes it, and the trailer. A field is a
// string (text), a []byte (bytea; nil is NULL), an int64 (bigint), an
// int32 (integer) or a bool; the COPY statement names the columns in
// that order, the data's last.
func copyRow(msg *store.MessageReader, fields ...any) io.Reader {
	be := binary.BigEndian
	b := []byte("PGCOPY\n\xff\r\n\x00")
	b = be.AppendUint32(b, 0) // flags: no OIDs
	b = be.AppendUint32(b, 0) // header extension: none
	b = be.AppendUint16(b, uint16(len(fields)+1))
	for _, f := range fields {
		switch v := f.(type) {
		case string:
			b = be.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		case []byte:
			if v == nil {
				b = be.AppendUint32(b, 0xffffffff) // -1: NULL
				break
			}
			b = be.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		case int64:
			b = be.AppendUint32(b, 8)
			b = be.AppendUint64(b, uint64(v))
		case int32:
			b = be.AppendUint32(b, 4)
			b = be.AppendUint32(b, uint32(v))
		case bool:
			b = be.AppendUint32(b, 1)
			if v {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		default:
			panic(fmt.Sprintf("copyRow: a field of type %T", f)) // a programming error
		}
	}
	b = be.AppendUint32(b, uint32(msg.Size()))
	trailer := []byte{0xff, 0xff} // a tuple of -1 fields
	return io.MultiReader(bytes.NewReader(b), msg, bytes.NewReader(trailer))
}

// copyIn runs the COPY statement copy with the input copyRow makes of msg
// and fields, in tx. Once it has started, msg has been read, so its
// failure is marked notRetryable; what fails it first is returned: msg's
// own error if msg failed (the server's only quotes it), else the
// server's.
func copyIn(ctx context.Context, tx pgx.Tx, copy string, msg *store.MessageReader, fields ...any) error {
	_, err := tx.Conn().PgConn().CopyFrom(ctx, copyRow(msg, fields...), copy)
	if err == nil {
		return nil
	}
	if readErr := msg.Err(); readErr != nil {
		err = readErr
	}
	return notRetryable{err}
}
