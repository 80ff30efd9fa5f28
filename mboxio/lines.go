package mboxio

import (
	"bytes"
	"errors"
)

// ErrTooLarge is wrapped by the errors for messages over the maximum size.
var ErrTooLarge = errors.New("mboxio: message too large")

// toCRLF returns data with every line ending in CRLF, whether it ended in
// LF or CRLF.
func toCRLF(data []byte) []byte {
	out := make([]byte, 0, len(data)+bytes.Count(data, []byte("\n")))
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return append(out, data...)
		}
		line := bytes.TrimSuffix(data[:i], []byte("\r"))
		out = append(append(out, line...), '\r', '\n')
		data = data[i+1:]
	}
	return out
}

// toLF returns data with CRLF line ends made LF, ending in a line end.
func toLF(data []byte) []byte {
	out := bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return out
}
