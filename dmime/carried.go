package dmime

import (
	"encoding/binary"
	"fmt"
)

// Carried is what a version 2 author seal carries besides the author
// signature (spec §7.3): the author's signet and, optionally, evidence
// about it — an inclusion proof in its provider's transparency log and
// signed checkpoints of logs the author has seen (docs/spec/keylog.md
// §10). dmime checks only the framing and that Signet is the signet the
// origin chunk names; the rest is opaque to it, for the reader to judge.
type Carried struct {
	Signet []byte // the author's user signet, as encoded (required)
	// Chain are the author's signets before Signet, newest first, each
	// the one the signet before it in the list succeeds (docs/spec/signet.md
	// §4.3), at most MaxCarriedChain: a recipient who pinned one of them
	// follows the author's rotations without a look-up.
	Chain       [][]byte
	Proof       []byte   // an inclusion proof of Signet, or nil
	Checkpoints [][]byte // signed checkpoints, at most MaxCarriedCheckpoints
}

// Bounds of the carried items (spec §7.3).
const (
	MaxCarriedCheckpoints = 4
	MaxCarriedChain       = 4
	maxCheckpointLen      = 4096
	maxProofLen           = 16 + 128*32
	itemSignet            = 0x01
	itemCheckpoint        = 0x02
	itemProof             = 0x03
	itemPrevious          = 0x04
	itemHeaderLen         = 4 // type (1) and length (3)
	// maxSealPlain bounds the author seal's plaintext: the signature and
	// every item at its largest.
	maxSealPlain = sigLen + (1+MaxCarriedChain)*(itemHeaderLen+maxSealedSignet) +
		MaxCarriedCheckpoints*(itemHeaderLen+maxCheckpointLen) + itemHeaderLen + maxProofLen
)

func (c *Carried) check() error {
	switch {
	case len(c.Signet) == 0 || len(c.Signet) > maxSealedSignet:
		return fmt.Errorf("%w: carried signet of %d bytes", ErrInput, len(c.Signet))
	case len(c.Checkpoints) > MaxCarriedCheckpoints:
		return fmt.Errorf("%w: %d carried checkpoints, at most %d", ErrInput, len(c.Checkpoints), MaxCarriedCheckpoints)
	case len(c.Proof) > maxProofLen:
		return fmt.Errorf("%w: carried proof of %d bytes", ErrInput, len(c.Proof))
	case len(c.Chain) > MaxCarriedChain:
		return fmt.Errorf("%w: %d carried earlier signets, at most %d", ErrInput, len(c.Chain), MaxCarriedChain)
	}
	for _, s := range c.Chain {
		if len(s) == 0 || len(s) > maxSealedSignet {
			return fmt.Errorf("%w: carried earlier signet of %d bytes", ErrInput, len(s))
		}
	}
	for _, cp := range c.Checkpoints {
		if len(cp) == 0 || len(cp) > maxCheckpointLen {
			return fmt.Errorf("%w: carried checkpoint of %d bytes", ErrInput, len(cp))
		}
	}
	return nil
}

// plainLen is the length of the seal's plaintext with sig.
func (c *Carried) plainLen() int {
	n := sigLen + itemHeaderLen + len(c.Signet)
	for _, s := range c.Chain {
		n += itemHeaderLen + len(s)
	}
	for _, cp := range c.Checkpoints {
		n += itemHeaderLen + len(cp)
	}
	if c.Proof != nil {
		n += itemHeaderLen + len(c.Proof)
	}
	return n
}

// encode is the seal's plaintext: sig, then the items in their fixed
// order — signet, earlier signets, checkpoints, proof.
func (c *Carried) encode(sig []byte) []byte {
	b := make([]byte, 0, c.plainLen())
	b = append(b, sig...)
	item := func(t byte, v []byte) {
		b = append(b, t, byte(len(v)>>16), byte(len(v)>>8), byte(len(v)))
		b = append(b, v...)
	}
	item(itemSignet, c.Signet)
	for _, s := range c.Chain {
		item(itemPrevious, s)
	}
	for _, cp := range c.Checkpoints {
		item(itemCheckpoint, cp)
	}
	if c.Proof != nil {
		item(itemProof, c.Proof)
	}
	return b
}

// decodeCarried parses the seal's plaintext; anything but the fixed order
// of known items within their bounds is ErrMalformed.
func decodeCarried(pt []byte) ([]byte, *Carried, error) {
	if len(pt) < sigLen {
		return nil, nil, fmt.Errorf("%w: author seal of %d bytes", ErrMalformed, len(pt))
	}
	sig, rest := pt[:sigLen], pt[sigLen:]
	c := &Carried{}
	last := byte(0)
	for len(rest) > 0 {
		if len(rest) < itemHeaderLen {
			return nil, nil, fmt.Errorf("%w: author seal: truncated item", ErrMalformed)
		}
		t, n := rest[0], int(binary.BigEndian.Uint32(rest)&0xFFFFFF)
		v := rest[itemHeaderLen:]
		if n > len(v) || n == 0 {
			return nil, nil, fmt.Errorf("%w: author seal: item 0x%02x of %d bytes", ErrMalformed, t, n)
		}
		v, rest = v[:n], v[n:]
		ok := false
		switch {
		case t == itemSignet && last == 0:
			ok = n <= maxSealedSignet
			c.Signet = v
		case t == itemPrevious && (last == itemSignet || last == itemPrevious):
			ok = n <= maxSealedSignet && len(c.Chain) < MaxCarriedChain
			c.Chain = append(c.Chain, v)
		case t == itemCheckpoint && (last == itemSignet || last == itemPrevious || last == itemCheckpoint):
			ok = n <= maxCheckpointLen && len(c.Checkpoints) < MaxCarriedCheckpoints
			c.Checkpoints = append(c.Checkpoints, v)
		case t == itemProof && (last == itemSignet || last == itemPrevious || last == itemCheckpoint):
			ok = n <= maxProofLen
			c.Proof = v
		}
		if !ok {
			return nil, nil, fmt.Errorf("%w: author seal: item 0x%02x out of place or too large", ErrMalformed, t)
		}
		last = t
	}
	if c.Signet == nil {
		return nil, nil, fmt.Errorf("%w: author seal carries no signet", ErrMalformed)
	}
	return sig, c, nil
}
