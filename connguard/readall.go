package connguard

import (
	"errors"
	"fmt"
	"io"
)

// FirstRead is the buffer ReadAll starts with, unless the upload is
// smaller: the size of a typical message, and enough to make the
// doublings after it few.
const FirstRead = 64 << 10

// ErrTooLong is returned by ReadAll when more than max bytes arrive.
var ErrTooLong = errors.New("connguard: upload longer than its limit")

// ReadAll reads r to its end into memory that grows with the bytes that
// arrive, not with what the client announced: the buffer starts at
// FirstRead and doubles, so it is never more than twice what arrived
// (plus spare), and a client that announces 64 MiB and sends little holds
// little. Each growth is taken from b first (nil: no budget); over it,
// ReadAll stops with ErrBudget. The buffer never grows past limit+spare;
// spare is room the caller appends into afterwards without a copy. More
// than limit bytes is ErrTooLong.
//
// held is what was taken from b: the caller gives it back (b.Give) once
// it has let go of data, also after an error.
func ReadAll(r io.Reader, limit, spare int64, b *Budget) (data []byte, held int64, err error) {
	buf := []byte{} // an empty upload is empty, not nil
	for {
		if int64(len(buf)) == limit {
			// Full: only the end of the upload may follow.
			var one [1]byte
			n, err := io.ReadFull(r, one[:])
			switch {
			case n > 0:
				return nil, held, fmt.Errorf("%w (%d bytes)", ErrTooLong, limit)
			case errors.Is(err, io.EOF):
				return buf, held, nil
			default:
				return nil, held, err
			}
		}
		if len(buf) == cap(buf) {
			grow := min(max(2*int64(cap(buf)), FirstRead), limit+spare)
			if err := b.Take(grow - held); err != nil {
				return nil, held, err
			}
			held = grow
			next := make([]byte, len(buf), grow)
			copy(next, buf)
			buf = next
		}
		n, err := r.Read(buf[len(buf):min(int64(cap(buf)), limit)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, held, nil
		}
		if err != nil {
			return nil, held, err
		}
	}
}
