package keylog

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// A Checkpoint is a log's size and root hash (spec §3).
type Checkpoint struct {
	Origin string // "umbra-keylog/<domain>"
	Size   int64
	Hash   tlog.Hash
}

// Origin is the origin line of domain's log.
func Origin(domain string) string { return "umbra-keylog/" + domain }

// MaxCheckpoint bounds a signed checkpoint: the text and a handful of
// signatures.
const MaxCheckpoint = 4 << 10

// ErrCheckpoint is wrapped by every checkpoint parsing error.
var ErrCheckpoint = errors.New("keylog: malformed checkpoint")

// Text is the checkpoint's body, the exact bytes signed (spec §3.1):
// the origin, the size in decimal, the root hash in standard base64, one
// per line.
func (c Checkpoint) Text() []byte {
	return fmt.Appendf(nil, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Hash[:]))
}

// ParseText parses a checkpoint body. It is strict: exactly three lines,
// a canonical decimal size, a 32-byte hash in padded standard base64.
func ParseText(text []byte) (Checkpoint, error) {
	if len(text) > MaxCheckpoint {
		return Checkpoint{}, fmt.Errorf("%w: %d bytes", ErrCheckpoint, len(text))
	}
	lines := strings.SplitAfter(string(text), "\n")
	if len(lines) != 4 || lines[3] != "" {
		return Checkpoint{}, fmt.Errorf("%w: want three lines", ErrCheckpoint)
	}
	origin := strings.TrimSuffix(lines[0], "\n")
	if !strings.HasPrefix(origin, "umbra-keylog/") || strings.ContainsAny(origin, " \t\r") || len(origin) > 300 {
		return Checkpoint{}, fmt.Errorf("%w: origin %q", ErrCheckpoint, clip(origin))
	}
	sizeText := strings.TrimSuffix(lines[1], "\n")
	size, err := strconv.ParseInt(sizeText, 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != sizeText {
		return Checkpoint{}, fmt.Errorf("%w: size %q", ErrCheckpoint, clip(sizeText))
	}
	hashText := strings.TrimSuffix(lines[2], "\n")
	h, err := base64.StdEncoding.Strict().DecodeString(hashText)
	if err != nil || len(h) != tlog.HashSize {
		return Checkpoint{}, fmt.Errorf("%w: root hash %q", ErrCheckpoint, clip(hashText))
	}
	return Checkpoint{Origin: origin, Size: size, Hash: tlog.Hash(h)}, nil
}

// Signer signs checkpoints with an Ed25519 log key (never a key used for
// anything else: DESIGN §3).
type Signer struct {
	s note.Signer
}

// NewSigner returns a signer for the log of domain with key.
func NewSigner(domain string, key ed25519.PrivateKey) (*Signer, error) {
	vkey, err := VerifierKey(domain, key.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, err
	}
	// note's private key form: PRIVATE+KEY+<name>+<hash>+base64(0x01 ‖ seed).
	name, rest, _ := strings.Cut(vkey, "+")
	hash, _, _ := strings.Cut(rest, "+")
	skey := "PRIVATE+KEY+" + name + "+" + hash + "+" + base64.StdEncoding.EncodeToString(append([]byte{1}, key.Seed()...))
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("keylog: signer: %w", err)
	}
	return &Signer{s}, nil
}

// VerifierKey is the note verifier key of domain's log key pub, the form
// an organisation signet names it in (spec §3.2).
func VerifierKey(domain string, pub ed25519.PublicKey) (string, error) {
	return note.NewEd25519VerifierKey(Origin(domain), pub)
}

// Sign returns the signed checkpoint (a note: text, blank line,
// signature lines).
func (s *Signer) Sign(c Checkpoint) ([]byte, error) {
	return note.Sign(&note.Note{Text: string(c.Text())}, s.s)
}

// Open verifies a signed checkpoint of domain's log with its verifier key
// and returns it. The signature must be the log key's; other signatures
// (a witness's, later) are ignored.
func Open(msg []byte, domain, vkey string) (Checkpoint, error) {
	if len(msg) > MaxCheckpoint {
		return Checkpoint{}, fmt.Errorf("%w: %d bytes", ErrCheckpoint, len(msg))
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("keylog: verifier key: %w", err)
	}
	if v.Name() != Origin(domain) {
		return Checkpoint{}, fmt.Errorf("keylog: verifier key is for %q, not %q", v.Name(), Origin(domain))
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("keylog: checkpoint signature: %w", err)
	}
	c, err := ParseText([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != Origin(domain) {
		return Checkpoint{}, fmt.Errorf("%w: origin %q in a checkpoint of %s", ErrCheckpoint, clip(c.Origin), domain)
	}
	return c, nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
