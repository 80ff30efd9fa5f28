package dmime

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// The MIME split (spec §9.2). After the header block, the body is cut into
// sections without changing a byte: every leaf part becomes one display
// or attachment section holding the boundary line and part header that
// precede it and its body up to (not including) the next delimiter line;
// bytes that belong to no leaf (closing delimiters, epilogues, an
// oversized structure run) go to structure sections. The concatenation of
// the sections in order is the body exactly, whatever the MIME structure,
// even malformed: the parse only chooses where to cut.

const (
	// maxBoundaryLen: RFC 2046 §5.1.1 allows 70; allow some slack for
	// real-world senders, but a delimiter must fit the line buffer.
	maxBoundaryLen = 200
	// maxPending bounds structure bytes held before they are flushed into
	// a structure section (and the part header kept for classification).
	maxPending = 64 << 10
)

// bodySink receives the sections the splitter cuts.
type bodySink interface {
	begin(t byte) error
	write(p []byte) error
	end() error
}

type splitState int

const (
	inStructure splitState = iota // preamble, epilogue, between parts
	inPartHeader
	inLeaf
)

type splitter struct {
	br        *bufio.Reader
	out       bodySink
	stack     []string // delimiters "--boundary" of the open multiparts, innermost last
	pending   []byte   // structure bytes not yet in a section
	partHdr   []byte   // raw header of the current part, for classification
	state     splitState
	lineStart bool
}

// splitBody cuts the body that follows a header block whose pieces are
// given.
func splitBody(br *bufio.Reader, top [][]byte, out bodySink) error {
	s := &splitter{br: br, out: out, lineStart: true}
	t, boundary := partKind(top[:len(top)-1])
	if boundary == "" {
		if err := out.begin(t); err != nil {
			return err
		}
		// A single-part message: the whole body is one section.
		if _, err := br.WriteTo(sinkWriter{out}); err != nil {
			return fmt.Errorf("dmime: read body: %w", err)
		}
		return out.end()
	}
	s.stack = append(s.stack, "--"+boundary)
	s.state = inStructure
	for {
		var err error
		if s.state == inLeaf {
			err = s.leaf()
		} else {
			err = s.line()
		}
		if errors.Is(err, io.EOF) {
			return s.finish()
		}
		if err != nil {
			return err
		}
	}
}

// sinkWriter adapts a bodySink to io.Writer for io.Copy-style loops.
type sinkWriter struct{ s bodySink }

func (w sinkWriter) Write(p []byte) (int, error) {
	if err := w.s.write(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (s *splitter) finish() error {
	if s.state == inLeaf {
		if err := s.out.end(); err != nil {
			return err
		}
	}
	return s.flush()
}

// leaf copies body bytes in bulk up to the next line that starts with '-'
// and checks that line for a delimiter, so long bodies cost one scan.
func (s *splitter) leaf() error {
	if s.lineStart {
		b, err := s.br.Peek(1)
		if err != nil {
			return readErr(err)
		}
		if b[0] == '-' {
			line, err := s.br.ReadSlice('\n')
			if len(line) == 0 {
				return readErr(err)
			}
			if i, closing, ok := s.delimiter(line, err); ok {
				if err := s.out.end(); err != nil {
					return err
				}
				return s.atDelimiter(line, i, closing)
			}
			s.lineStart = line[len(line)-1] == '\n'
			return s.out.write(line)
		}
	}
	if s.br.Buffered() == 0 {
		if _, err := s.br.Peek(1); err != nil {
			return readErr(err)
		}
	}
	buf, _ := s.br.Peek(s.br.Buffered())
	n := len(buf)
	if i := bytes.Index(buf, []byte("\n-")); i >= 0 {
		n = i + 1
	}
	s.lineStart = buf[n-1] == '\n'
	if err := s.out.write(buf[:n]); err != nil {
		return err
	}
	_, err := s.br.Discard(n)
	return err
}

// line handles one line (or line fragment) outside leaf bodies.
func (s *splitter) line() error {
	line, err := s.br.ReadSlice('\n')
	if len(line) == 0 {
		return readErr(err)
	}
	start := s.lineStart
	s.lineStart = line[len(line)-1] == '\n'
	if start {
		if i, closing, ok := s.delimiter(line, err); ok {
			return s.atDelimiter(line, i, closing)
		}
	}
	if s.state == inPartHeader && start && isBlankLine(line) {
		return s.partBody(line)
	}
	if s.state == inPartHeader && len(s.partHdr)+len(line) <= maxPending {
		s.partHdr = append(s.partHdr, line...)
	}
	return s.structure(line)
}

// partBody starts the body of a part once its header has ended.
func (s *splitter) partBody(blank []byte) error {
	if err := s.structure(blank); err != nil {
		return err
	}
	t, boundary := partKind(splitFields(s.partHdr))
	s.partHdr = s.partHdr[:0]
	if boundary != "" {
		s.stack = append(s.stack, "--"+boundary)
		s.state = inStructure
		return nil
	}
	if err := s.out.begin(t); err != nil {
		return err
	}
	if err := s.out.write(s.pending); err != nil {
		return err
	}
	s.pending = s.pending[:0]
	s.state, s.lineStart = inLeaf, true
	return nil
}

// delimiter reports whether line (read at a line start) is a delimiter of
// an open multipart: which one, and whether it is the closing one. Trailing
// whitespace (transport padding, RFC 2046 §5.1.1) is allowed.
func (s *splitter) delimiter(line []byte, readErr error) (idx int, closing, ok bool) {
	if errors.Is(readErr, bufio.ErrBufferFull) || len(line) < 2 || line[0] != '-' || line[1] != '-' {
		return 0, false, false
	}
	l := bytes.TrimRight(line, " \t\r\n")
	for i := len(s.stack) - 1; i >= 0; i-- {
		d := s.stack[i]
		if !bytes.HasPrefix(l, []byte(d)) {
			continue
		}
		switch rest := l[len(d):]; string(rest) {
		case "":
			return i, false, true
		case "--":
			return i, true, true
		}
	}
	return 0, false, false
}

// atDelimiter closes the multiparts nested inside the one whose delimiter
// was found and moves to its next part header or its epilogue.
func (s *splitter) atDelimiter(line []byte, i int, closing bool) error {
	s.stack = s.stack[:i+1]
	s.lineStart = line[len(line)-1] == '\n'
	if err := s.structure(line); err != nil {
		return err
	}
	s.partHdr = s.partHdr[:0]
	if closing {
		s.stack = s.stack[:i]
		s.state = inStructure
	} else {
		s.state = inPartHeader
	}
	return nil
}

// structure keeps bytes that belong to no leaf yet.
func (s *splitter) structure(b []byte) error {
	s.pending = append(s.pending, b...)
	if len(s.pending) >= maxPending {
		return s.flush()
	}
	return nil
}

func (s *splitter) flush() error {
	if len(s.pending) == 0 {
		return nil
	}
	if err := s.out.begin(typeStructure); err != nil {
		return err
	}
	if err := s.out.write(s.pending); err != nil {
		return err
	}
	s.pending = s.pending[:0]
	return s.out.end()
}

// splitFields groups raw header lines into fields (a field and its
// continuation lines).
func splitFields(raw []byte) [][]byte {
	var fields [][]byte
	for len(raw) > 0 {
		end := bytes.IndexByte(raw, '\n') + 1
		if end == 0 {
			end = len(raw)
		}
		line := raw[:end]
		raw = raw[end:]
		if (line[0] == ' ' || line[0] == '\t') && len(fields) > 0 {
			last := fields[len(fields)-1]
			fields[len(fields)-1] = last[:len(last)+len(line)]
			continue
		}
		fields = append(fields, line)
	}
	return fields
}

// readErr maps the error of a read that returned no data: io.EOF is the
// end of the body, anything else is wrapped.
func readErr(err error) error {
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	return fmt.Errorf("dmime: read MIME: %w", err)
}
