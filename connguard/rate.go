package connguard

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// ErrTooSlow is wrapped by the error of a RateReader whose client fell
// below the minimum rate or past the overall deadline.
var ErrTooSlow = errors.New("connguard: transfer too slow")

// MinRate is the slowest transfer a server puts up with: after Grace, the
// client must have sent at least BytesPerSec bytes per second on average
// since the start. BytesPerSec <= 0 switches the rate off (an overall
// deadline still applies).
type MinRate struct {
	BytesPerSec int64
	Grace       time.Duration
}

func (m MinRate) String() string {
	return fmt.Sprintf("%d bytes/s after %v", m.BytesPerSec, m.Grace)
}

// RateReader reads a client's upload under a MinRate and an overall
// deadline. It enforces both through read deadlines on the connection
// (setDeadline, as net.Conn.SetReadDeadline or
// http.ResponseController.SetReadDeadline), set before each Read to the
// moment by which the next byte must have arrived, so that no timer or
// goroutine is needed and a stalled client is cut at exactly that moment.
//
// A RateReader is not safe for concurrent use; it is used by the one
// goroutine that reads the upload.
type RateReader struct {
	r           io.Reader
	setDeadline func(time.Time) error
	rate        MinRate
	start, end  time.Time
	n           int64
	err         error
}

// NewRateReader returns a reader of r that must be read to its end before
// end (zero: no overall deadline) and at rate. The clock starts now.
func NewRateReader(r io.Reader, setDeadline func(time.Time) error, rate MinRate, end time.Time) *RateReader {
	return &RateReader{r: r, setDeadline: setDeadline, rate: rate, start: time.Now(), end: end}
}

// deadline is when byte n+1 is due: the start, the grace, and n+1 bytes at
// the minimum rate; never later than end.
func (rr *RateReader) deadline() time.Time {
	var d time.Time
	if rr.rate.BytesPerSec > 0 {
		d = rr.start.Add(rr.rate.Grace + time.Duration(float64(rr.n+1)/float64(rr.rate.BytesPerSec)*float64(time.Second)))
	}
	if !rr.end.IsZero() && (d.IsZero() || rr.end.Before(d)) {
		d = rr.end
	}
	return d
}

// Read reads from the client. A client that misses its deadline gets an
// error wrapping ErrTooSlow and the network's timeout error; it sticks.
func (rr *RateReader) Read(p []byte) (int, error) {
	if rr.err != nil {
		return 0, rr.err
	}
	if err := rr.setDeadline(rr.deadline()); err != nil {
		rr.err = fmt.Errorf("connguard: set read deadline: %w", err)
		return 0, rr.err
	}
	n, err := rr.r.Read(p)
	rr.n += int64(n)
	if err != nil && isTimeout(err) {
		el := time.Since(rr.start).Round(time.Millisecond)
		rr.err = fmt.Errorf("%w: %d bytes in %v (at least %v): %w", ErrTooSlow, rr.n, el, rr.rate, err)
		return n, rr.err
	}
	return n, err
}

// Count returns the bytes read so far.
func (rr *RateReader) Count() int64 { return rr.n }

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}
