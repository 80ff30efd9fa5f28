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
// FirstRead and doubles, and once a quarter of limit has arrived it grows
// to limit+spare at once (spare is room the caller appends into
// afterwards without a copy). So it is never more than four times what
// arrived, a client that announces 64 MiB and sends little holds little,
// and no growth copies a buffer of more than half the final size. Each
// growth takes the new buffer from b (nil: no budget) before the old one
// is given back, so that b counts both during the copy; over it, ReadAll
// stops with ErrBudget. More than limit bytes is ErrTooLong.
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
			grow := max(2*int64(cap(buf)), FirstRead)
			if 2*grow >= limit+spare {
				// The doubling after this one would pass the end: go
				// there now, and spare the copy of a buffer nearly as
				// large as the whole.
				grow = limit + spare
			}
			if err := b.Take(grow); err != nil {
				return nil, held, err
			}
			next := make([]byte, len(buf), grow)
			copy(next, buf)
			buf = next
			b.Give(held)
			held = grow
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
