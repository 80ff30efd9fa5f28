package dmime

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// Header sections (spec §9.1). The message's header block is kept as raw
// pieces, each field with its continuation lines and line endings exactly
// as received, and the blank line that ends the block as a last piece.
// The common fields go to the common headers section and the rest to the
// other headers section; every piece carries its position, so the
// recipient rebuilds the block byte for byte.

// MaxHeaderBytes bounds the top-level header block Seal accepts.
const MaxHeaderBytes = 1 << 20

// maxHeaderPieces: piece positions are uint16.
const maxHeaderPieces = 1 << 16

// commonFields are the fields of the common headers section: what a client
// shows in a message list (DESIGN §2 "headers").
var commonFields = map[string]bool{
	"from": true, "to": true, "cc": true, "subject": true, "date": true,
	"message-id": true, "in-reply-to": true, "references": true,
}

// fieldName returns the lowercased name of a raw field, or "" if the piece
// is not a "name: value" field.
func fieldName(raw []byte) string {
	name, _, ok := bytes.Cut(raw, []byte(":"))
	if !ok || len(name) == 0 || name[0] == ' ' || name[0] == '\t' {
		return ""
	}
	return strings.ToLower(string(bytes.TrimRight(name, " \t")))
}

// isBlankLine reports whether a complete line is empty (CRLF or LF).
func isBlankLine(l []byte) bool { return string(l) == "\r\n" || string(l) == "\n" }

// readLine reads one line including its line ending, or up to EOF, with at
// most limit bytes.
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(line)+len(frag) > limit {
			return nil, fmt.Errorf("%w: header block over %d bytes", ErrInput, MaxHeaderBytes)
		}
		line = append(line, frag...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return line, err
	}
}

// readHeaderBlock reads a header block into pieces: fields (with their
// continuation lines), then the terminating blank line (empty if the input
// ended first).
func readHeaderBlock(br *bufio.Reader) ([][]byte, error) {
	var pieces [][]byte
	total := 0
	for {
		line, err := readLine(br, MaxHeaderBytes-total)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		total += len(line)
		switch {
		case isBlankLine(line) || len(line) == 0:
			return append(pieces, line), nil
		case (line[0] == ' ' || line[0] == '\t') && len(pieces) > 0 && bytes.HasSuffix(pieces[len(pieces)-1], []byte("\n")):
			pieces[len(pieces)-1] = append(pieces[len(pieces)-1], line...)
		default:
			pieces = append(pieces, line)
		}
		if err != nil { // EOF without a blank line
			return append(pieces, nil), nil
		}
		if len(pieces) >= maxHeaderPieces {
			return nil, fmt.Errorf("%w: more than %d header fields", ErrInput, maxHeaderPieces-1)
		}
	}
}

// encodeHeaderSections splits header pieces into the plaintexts of the
// common and the other headers sections. Each entry is
// position (uint16) || length (uint32) || raw bytes.
func encodeHeaderSections(pieces [][]byte) (common, other []byte) {
	for i, p := range pieces {
		dst := &other
		if i < len(pieces)-1 && commonFields[fieldName(p)] {
			dst = &common
		}
		*dst = binary.BigEndian.AppendUint16(*dst, uint16(i))
		*dst = binary.BigEndian.AppendUint32(*dst, uint32(len(p)))
		*dst = append(*dst, p...)
	}
	return common, other
}

// decodeHeaderSections rebuilds the header block from the two section
// plaintexts; positions must be exactly 0..n-1.
func decodeHeaderSections(common, other []byte) ([]byte, error) {
	var pieces [][]byte
	for _, b := range [][]byte{common, other} {
		for len(b) > 0 {
			if len(b) < 6 {
				return nil, fmt.Errorf("%w: header entry of %d bytes", ErrMalformed, len(b))
			}
			pos, n := int(binary.BigEndian.Uint16(b)), binary.BigEndian.Uint32(b[2:])
			if uint64(n) > uint64(len(b)-6) {
				return nil, fmt.Errorf("%w: header entry length %d", ErrMalformed, n)
			}
			for len(pieces) <= pos {
				pieces = append(pieces, nil)
			}
			if pieces[pos] != nil {
				return nil, fmt.Errorf("%w: header position %d repeated", ErrMalformed, pos)
			}
			pieces[pos] = b[6 : 6+n : 6+n]
			b = b[6+n:]
		}
	}
	var out []byte
	for i, p := range pieces {
		if p == nil && i < len(pieces)-1 {
			return nil, fmt.Errorf("%w: header position %d missing", ErrMalformed, i)
		}
		out = append(out, p...)
	}
	return out, nil
}

// partKind classifies a MIME entity from its raw header fields: a
// multipart with its boundary, or a leaf section type (spec §9.2). The
// fields are parsed with go-message; anything it cannot parse is an
// attachment, which is the safe default.
func partKind(fields [][]byte) (t byte, boundary string) {
	var h textproto.Header
	for _, f := range fields {
		switch fieldName(f) {
		case "content-type", "content-disposition":
			h.AddRaw(f)
		}
	}
	mh := message.Header{Header: h}
	mt, params, err := mh.ContentType()
	if err != nil {
		return typeAttachment, ""
	}
	if strings.HasPrefix(mt, "multipart/") {
		if b := params["boundary"]; b != "" && len(b) <= maxBoundaryLen {
			return 0, b
		}
		return typeAttachment, ""
	}
	if disp, _, err := mh.ContentDisposition(); err == nil && disp == "attachment" {
		return typeAttachment, ""
	}
	if strings.HasPrefix(mt, "text/") {
		return typeDisplay, ""
	}
	return typeAttachment, ""
}
