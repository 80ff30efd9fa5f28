package store

import (
	"fmt"
	"io"
)

// MaxReadPiece is the most a reader of Mailbox.Open or Queue.Open reads
// from the store into memory at once. It bounds what serving one download costs the
// provider however large the document (up to MaxDataSize), while keeping
// the cost of each read (a connection, a look-up; on SQLite a walk of the
// document's pages up to the offset) small next to the bytes moved. A
// caller serving a whole document should read it in calls of this size.
const MaxReadPiece = 1 << 20

// PieceReader is the io.ReaderAt an implementation's Mailbox.Open and
// Queue.Open return: it serves a ReadAt of any length as reads of at most
// MaxReadPiece bytes within the document (or queued message), and keeps
// io.ReaderAt's contract (fewer bytes than asked only with an error,
// io.EOF at the end), so implementations only read pieces.
type PieceReader struct {
	Size int64 // the document's length
	// Read fills p, at most MaxReadPiece bytes that end within Size,
	// with the document's bytes from off, or fails; it must be safe for
	// concurrent use.
	Read func(p []byte, off int64) error
}

// ReadAt implements io.ReaderAt.
func (r PieceReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%w: read at negative offset %d", ErrInvalid, off)
	}
	if off >= r.Size {
		return 0, io.EOF
	}
	want := len(p)
	if rest := r.Size - off; int64(want) > rest {
		p = p[:rest]
	}
	n := 0
	for n < len(p) {
		piece := p[n:min(len(p), n+MaxReadPiece)]
		if err := r.Read(piece, off+int64(n)); err != nil {
			return n, err
		}
		n += len(piece)
	}
	if n < want {
		return n, io.EOF
	}
	return n, nil
}
