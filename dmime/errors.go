package dmime

import "errors"

// Sentinel errors. Every rejection wraps exactly one of them (with context),
// so callers and tests can tell failures apart with errors.Is
// (docs/spec/dmime.md §10 lists which rule raises which).
var (
	// ErrNotDMIME: the input does not start with the D/MIME magic.
	ErrNotDMIME = errors.New("dmime: not a D/MIME message")
	// ErrVersion: the magic is right but the format version or the
	// cipher suite is not one this implementation knows.
	ErrVersion = errors.New("dmime: unsupported version or suite")
	// ErrTruncated: the input ends inside a chunk or before the message is
	// complete.
	ErrTruncated = errors.New("dmime: truncated message")
	// ErrUnknownChunk: a chunk type that version 1 does not define (every
	// type is critical in version 1).
	ErrUnknownChunk = errors.New("dmime: unknown chunk type")
	// ErrChunkOrder: a known chunk in a place the layout does not allow
	// (missing, repeated, reordered, section left open).
	ErrChunkOrder = errors.New("dmime: chunk out of order")
	// ErrChunkSize: a chunk longer or shorter than its type allows.
	ErrChunkSize = errors.New("dmime: bad chunk length")
	// ErrMalformed: a chunk payload whose fields do not decode.
	ErrMalformed = errors.New("dmime: malformed chunk")
	// ErrTrailingData: bytes after the last chunk a message may carry.
	ErrTrailingData = errors.New("dmime: trailing data")
	// ErrKeyslot: the caller's keyslot does not open with its key (wrong
	// key, or a keyslot taken from another message).
	ErrKeyslot = errors.New("dmime: keyslot does not open")
	// ErrKeyCommitment: a keyslot opened but its keys do not match the
	// commitments in the info chunk.
	ErrKeyCommitment = errors.New("dmime: key commitment mismatch")
	// ErrSegmentAuth: an encrypted segment failed authentication (changed,
	// moved, or from another message).
	ErrSegmentAuth = errors.New("dmime: segment authentication failed")
	// ErrTreeMismatch: a section's hash differs from the one the author
	// signed (a chunk changed, spliced, removed or reordered).
	ErrTreeMismatch = errors.New("dmime: section hash does not match the author's tree")
	// ErrAuthorSignature: the author's signature does not verify.
	ErrAuthorSignature = errors.New("dmime: author signature invalid")
	// ErrOriginSignature: the origin signature does not verify.
	ErrOriginSignature = errors.New("dmime: origin signature invalid")
	// ErrNoOriginSignature: the origin signature is required but absent.
	ErrNoOriginSignature = errors.New("dmime: origin signature missing")
	// ErrWrongRecipient: the destination chunk names another recipient
	// (a message forwarded or re-addressed by someone else).
	ErrWrongRecipient = errors.New("dmime: message addressed to another recipient")
	// ErrPadding: padding that is not all zero bytes.
	ErrPadding = errors.New("dmime: bad padding")
	// ErrNotPermitted: the caller asked for something its role may not see
	// (DESIGN §2).
	ErrNotPermitted = errors.New("dmime: not permitted for this role")
	// ErrInput: Seal's or Open's arguments are unusable (missing key,
	// invalid address, MIME header too large, too many parts).
	ErrInput = errors.New("dmime: invalid input")
)
