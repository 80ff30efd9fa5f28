package store

import (
	"fmt"
	"io"
)

// MessageReader is the data of a Mailbox.Deliver, Mailbox.Put or
// Queue.Enqueue call as its implementations read it: exactly size bytes
// of data. Its Read ends with an error wrapping ErrInvalid when data ends
// before size bytes or has more after them (it reads one byte past size
// to tell), and wraps data's own errors; every error is kept and returned
// again by later calls, so a message cut short is never taken for a
// whole one.
type MessageReader struct {
	data io.Reader
	size int64
	left int64 // bytes still to yield
	eof  bool  // data has reported io.EOF
	err  error // the first error other than io.EOF
}

// NewMessageReader checks the size of a message, delivered or queued (1
// to MaxDataSize, else ErrInvalid), and returns the reader of size bytes
// of data.
func NewMessageReader(data io.Reader, size int64) (*MessageReader, error) {
	if size < 1 || size > MaxDataSize {
		return nil, invalid("message of %d bytes, must be 1 to %d", size, MaxDataSize)
	}
	return newReader(data, size), nil
}

// NewDocumentReader checks the size of a document that Put stores (0 to
// MaxDataSize, else ErrInvalid: a document may be empty) and returns the
// reader of size bytes of data.
func NewDocumentReader(data io.Reader, size int64) (*MessageReader, error) {
	if size < 0 || size > MaxDataSize {
		return nil, invalid("document of %d bytes, must be 0 to %d", size, MaxDataSize)
	}
	return newReader(data, size), nil
}

// newReader reads size bytes of data; a nil data yields nothing.
func newReader(data io.Reader, size int64) *MessageReader {
	if data == nil {
		data = eof{}
	}
	return &MessageReader{data: data, size: size, left: size}
}

type eof struct{}

func (eof) Read([]byte) (int, error) { return 0, io.EOF }

func (m *MessageReader) Read(p []byte) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	if m.left == 0 {
		return 0, m.end()
	}
	p = p[:min(int64(len(p)), m.left)]
	n, err := m.data.Read(p)
	m.left -= int64(n)
	switch {
	case err == io.EOF:
		m.eof = true
		if m.left > 0 {
			m.err = invalid("message ends after %d of its %d bytes", m.size-m.left, m.size)
			return n, m.err
		}
	case err != nil:
		m.err = fmt.Errorf("read message: %w", err)
		return n, m.err
	}
	return n, nil
}

// end returns io.EOF once data is known to end after size bytes.
func (m *MessageReader) end() error {
	if m.eof {
		return io.EOF
	}
	var one [1]byte
	n, err := io.ReadFull(m.data, one[:])
	switch {
	case n > 0:
		m.err = invalid("message longer than its %d bytes", m.size)
	case err != io.EOF:
		m.err = fmt.Errorf("read message: %w", err)
	default:
		m.eof = true
		return io.EOF
	}
	return m.err
}

// ReadAll reads the whole message into memory: for a message no longer
// than MaxDeliverBuffer. An empty message is an empty, non-nil slice.
func (m *MessageReader) ReadAll() ([]byte, error) {
	b := make([]byte, m.size)
	if _, err := io.ReadFull(m, b); err != nil {
		return nil, err
	}
	if err := m.end(); err != io.EOF {
		return nil, err
	}
	return b, nil
}

// Size is the length of the message.
func (m *MessageReader) Size() int64 { return m.size }

// Err returns the error Read ended with, other than io.EOF: for a
// consumer that reports only its own error when its reader fails
// (PostgreSQL's COPY sends the reader's error text to the server and
// returns the server's answer).
func (m *MessageReader) Err() error { return m.err }
