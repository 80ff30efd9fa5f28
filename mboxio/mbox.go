package mboxio

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// Format is an mbox variant.
type Format int

const (
	// MboxRD quotes every line matching ">*From " with one more ">", so
	// that reading removes one and gets the body back exactly.
	MboxRD Format = iota
	// MboxO quotes only lines beginning "From "; reading removes the ">"
	// of lines beginning ">From ", which cannot tell a quoted line from
	// one written that way.
	MboxO
)

// MboxMessage is one message of an mbox file.
type MboxMessage struct {
	// From is the separator line after "From ": the envelope sender and
	// the delivery date, as the writer put them.
	From string
	// Data is the message, with CRLF line ends.
	Data []byte
}

// MboxReader reads the messages of an mbox file one at a time.
type MboxReader struct {
	br      *bufio.Reader
	format  Format
	max     int
	n       int    // messages begun, for errors
	pending string // separator line read ahead, without "From "
	off     int64  // bytes read from r
	sepLen  int64  // bytes of the separator line read ahead, with its line end
	started bool
	eof     bool
}

// NewMboxReader returns a reader of the mbox in r in format, of messages
// of at most maxSize bytes (as stored, before line ends become CRLF).
func NewMboxReader(r io.Reader, format Format, maxSize int) *MboxReader {
	return &MboxReader{br: bufio.NewReaderSize(r, 64<<10), format: format, max: maxSize}
}

var fromPrefix = []byte("From ")

// Next returns the next message, or io.EOF after the last. A message over
// the maximum size is read past and reported with an error wrapping
// ErrTooLarge; Next can be called again for the one after it. After any
// other error, Next returns io.EOF. Text before the first separator line
// is not an mbox: Next fails on it.
func (r *MboxReader) Next() (*MboxMessage, error) {
	if !r.started {
		r.started = true
		line, err := r.line()
		if err == io.EOF && len(line) == 0 {
			r.eof = true
			return nil, io.EOF
		}
		if !bytes.HasPrefix(line, fromPrefix) {
			r.eof = true
			return nil, fmt.Errorf("mboxio: not an mbox: first line %.40q does not begin with \"From \"", line)
		}
		r.pending = string(trimEOL(line[len(fromPrefix):]))
		r.sepLen = int64(len(line))
	}
	if r.eof {
		return nil, io.EOF
	}
	r.n++
	msg := &MboxMessage{From: r.pending}
	var data []byte
	tooLarge := false
	blank := 0 // bytes of the last line if it was empty, else 0
	for {
		line, err := r.line()
		if err != nil && err != io.EOF {
			r.eof = true
			return nil, fmt.Errorf("mboxio: message %d: %w", r.n, err)
		}
		if len(line) == 0 && err == io.EOF {
			r.eof = true
			r.sepLen = 0
			break
		}
		// A separator follows an empty line (RFC 4155 appendix A: writers
		// put one after each message); "From " after text is a body line
		// an mboxo writer did not quote.
		if blank > 0 && bytes.HasPrefix(line, fromPrefix) {
			r.pending = string(trimEOL(line[len(fromPrefix):]))
			r.sepLen = int64(len(line))
			break
		}
		blank = 0
		if len(trimEOL(line)) == 0 {
			blank = len(line)
		}
		if !tooLarge {
			if len(data)+len(line) > r.max {
				tooLarge, data = true, nil
			} else {
				data = append(data, r.unquote(line)...)
			}
		}
		if err == io.EOF {
			r.eof = true
			r.sepLen = 0
			break
		}
	}
	if tooLarge {
		return nil, fmt.Errorf("mboxio: message %d (From %s): %w: over %d bytes", r.n, msg.From, ErrTooLarge, r.max)
	}
	// The empty line before the next separator, or at the end, is the
	// mbox's, not the message's.
	msg.Data = toCRLF(data[:len(data)-blank])
	return msg, nil
}

// Offset is where in the input the next message's separator line
// begins, or the input's end after the last message: a reader made
// for the input from there (NewMboxReader over a file seeked to it) goes
// on with the message Next would return, which is how an interrupted
// import resumes.
func (r *MboxReader) Offset() int64 { return r.off - r.sepLen }

// line reads one line with its line end, valid until the next read.
// Lines longer than the buffer are read whole but kept only up to a
// little more than the maximum message size, which is enough to tell that
// the message is over it.
func (r *MboxReader) line() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	r.off += int64(len(line))
	if !errors.Is(err, bufio.ErrBufferFull) {
		return line, err
	}
	long := bytes.Clone(line)
	for errors.Is(err, bufio.ErrBufferFull) {
		line, err = r.br.ReadSlice('\n')
		r.off += int64(len(line))
		if len(long) <= r.max {
			long = append(long, line...)
		}
	}
	return long, err
}

// unquote removes the quoting ">" of a body line.
func (r *MboxReader) unquote(line []byte) []byte {
	if len(line) == 0 || line[0] != '>' {
		return line
	}
	rest := line
	if r.format == MboxRD {
		rest = bytes.TrimLeft(line, ">")
	} else {
		rest = line[1:]
	}
	if bytes.HasPrefix(rest, fromPrefix) {
		return line[1:]
	}
	return line
}

func trimEOL(line []byte) []byte {
	return bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
}

// MboxWriter writes messages to an mbox file in the mboxrd format.
type MboxWriter struct {
	w *bufio.Writer
}

// NewMboxWriter returns a writer of mboxrd to w; call Flush when done.
func NewMboxWriter(w io.Writer) *MboxWriter {
	return &MboxWriter{w: bufio.NewWriterSize(w, 64<<10)}
}

// Write appends message data (CRLF or LF line ends) with a separator
// naming sender (the envelope sender; "MAILER-DAEMON" when empty) and
// date, in the asctime form mbox readers expect (RFC 4155 appendix A).
func (w *MboxWriter) Write(sender string, date time.Time, data []byte) error {
	if sender == "" {
		sender = "MAILER-DAEMON"
	}
	if bytes.ContainsAny([]byte(sender), " \t\r\n") {
		return fmt.Errorf("mboxio: envelope sender %q has white space", sender)
	}
	fmt.Fprintf(w.w, "From %s %s\n", sender, date.UTC().Format("Mon Jan _2 15:04:05 2006"))
	for lf := toLF(data); len(lf) > 0; {
		i := bytes.IndexByte(lf, '\n')
		line := lf[:i+1]
		lf = lf[i+1:]
		if bytes.HasPrefix(bytes.TrimLeft(line, ">"), fromPrefix) {
			w.w.WriteByte('>')
		}
		w.w.Write(line)
	}
	if _, err := w.w.WriteString("\n"); err != nil {
		return fmt.Errorf("mboxio: write message: %w", err)
	}
	return nil
}

// Flush writes what is buffered.
func (w *MboxWriter) Flush() error {
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("mboxio: flush: %w", err)
	}
	return nil
}
