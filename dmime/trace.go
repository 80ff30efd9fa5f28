package dmime

import (
	"encoding/binary"
	"fmt"
	"time"
)

// TraceKind says what a server did with a message.
type TraceKind byte

const (
	// TraceRelayed: the origin provider accepted the message from its
	// author and relayed it.
	TraceRelayed TraceKind = 1
	// TraceReceived: the destination provider accepted the message.
	TraceReceived TraceKind = 2
)

// Trace is one hop record (spec §8): clear, appended by servers after the
// origin signature and covered by no signature, like a Received: field.
type Trace struct {
	Time   time.Time // whole seconds, UTC
	Kind   TraceKind
	Domain string // the server's domain
}

const (
	traceFixedLen = 8 + 1 + 1 // time, kind, domain length
	maxDomainLen  = 253       // RFC 1035 §2.3.4 in text form
)

func (tr Trace) encode() ([]byte, error) {
	if tr.Kind != TraceRelayed && tr.Kind != TraceReceived {
		return nil, fmt.Errorf("%w: trace kind %d", ErrInput, tr.Kind)
	}
	if err := checkName("trace domain", tr.Domain); err != nil || len(tr.Domain) > maxDomainLen {
		return nil, fmt.Errorf("%w: trace domain %q", ErrInput, tr.Domain)
	}
	b := make([]byte, 0, traceFixedLen+len(tr.Domain))
	b = binary.BigEndian.AppendUint64(b, uint64(tr.Time.Unix()))
	b = append(b, byte(tr.Kind), byte(len(tr.Domain)))
	return append(b, tr.Domain...), nil
}

func decodeTrace(p []byte) (Trace, error) {
	if len(p) < traceFixedLen || int(p[9]) != len(p)-traceFixedLen {
		return Trace{}, fmt.Errorf("%w: trace chunk length", ErrMalformed)
	}
	tr := Trace{
		Time:   time.Unix(int64(binary.BigEndian.Uint64(p)), 0).UTC(),
		Kind:   TraceKind(p[8]),
		Domain: string(p[traceFixedLen:]),
	}
	if tr.Kind != TraceRelayed && tr.Kind != TraceReceived {
		return Trace{}, fmt.Errorf("%w: trace kind %d", ErrMalformed, tr.Kind)
	}
	if err := checkName("trace domain", tr.Domain); err != nil {
		return Trace{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return tr, nil
}
