package dmime

import (
	"crypto/ed25519"
	"crypto/hpke"
	"errors"
	"fmt"
	"io"

	"umbra/signet"
)

// Role is the party opening a message (DESIGN §2).
type Role int

// The four roles. The zero value is no role.
const (
	RoleAuthor Role = iota + 1
	RoleOrigin
	RoleDestination
	RoleRecipient
)

func (r Role) String() string {
	switch r {
	case RoleAuthor:
		return "author"
	case RoleOrigin:
		return "origin"
	case RoleDestination:
		return "destination"
	case RoleRecipient:
		return "recipient"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// keyslot is the chunk type of the role's keyslot.
func (r Role) keyslot() byte { return typeKeyslotAuthor + byte(r-RoleAuthor) }

func (r Role) readsOrigin() bool      { return r != RoleDestination }
func (r Role) readsDestination() bool { return r != RoleOrigin }
func (r Role) readsContent() bool     { return r == RoleAuthor || r == RoleRecipient }

// AuthorKeyFunc returns the author's Ed25519 public signing key for the
// author address and user signet fingerprint found in the origin chunk
// (the bridge resolves and validates the signet). carried is what a
// version 2 message carries in the author seal (nil in version 1): the
// author's signet — unverified bytes, which Open has checked only to have
// fingerprint fp — and optional log evidence, which the function may
// validate instead of looking the signet up. An error stops Open.
type AuthorKeyFunc func(address string, fp signet.Fingerprint, carried *Carried) (ed25519.PublicKey, error)

// OpenOptions say what the caller wants checked and where the content
// goes. Which fields a role must or may set is in Open.
type OpenOptions struct {
	// MIME receives the reconstructed RFC 5322 message: author and
	// recipient only.
	MIME io.Writer
	// AuthorKey resolves the author's signing key; the author's signature
	// is then verified. Required for author and recipient, optional for
	// the origin, which can verify it in version 1 only (in version 2 the
	// signature is sealed and AuthorKey is not called for the origin).
	AuthorKey AuthorKeyFunc
	// OriginKeys are the origin organisation's public message-signing
	// keys (its SOKs with the sign-messages permission); when set the
	// origin signature must be present and valid under one of them.
	// Required for the destination, optional for the others.
	OriginKeys []ed25519.PublicKey
	// OriginKeysOf, for the recipient, returns the message keys of the
	// origin organisation the destination chunk names, so that the origin
	// signature is verified in the same pass as the rest (the recipient
	// learns the origin domain only inside the message). An error stops
	// Open. Not together with OriginKeys.
	OriginKeysOf func(originDomain string) ([]ed25519.PublicKey, error)
	// Recipient is the recipient's own address: a message whose
	// destination chunk names anyone else is refused (ErrWrongRecipient).
	// Required for the recipient role, not accepted for others.
	Recipient string
}

// Opened is what a role learned from a message. Fields every party may
// see are exported; the rest is behind methods that return
// ErrNotPermitted to roles that may not see it.
type Opened struct {
	Role   Role
	ID     ID
	Layout *Layout
	// AuthorVerified and OriginVerified say which signatures Open checked.
	AuthorVerified, OriginVerified bool
	// Carried is what a version 2 message carries in its author seal,
	// for the author and the recipient; nil otherwise. Open checked the
	// signet's fingerprint against the origin chunk, nothing else.
	Carried *Carried

	origin *OriginInfo
	dest   *DestinationInfo
}

// Origin returns the origin chunk: author and destination domain. Not for
// the destination role.
func (o *Opened) Origin() (OriginInfo, error) {
	if o.origin == nil {
		return OriginInfo{}, fmt.Errorf("%w: %s may not read the origin chunk", ErrNotPermitted, o.Role)
	}
	return *o.origin, nil
}

// Destination returns the destination chunk: recipient and origin domain.
// Not for the origin role.
func (o *Opened) Destination() (DestinationInfo, error) {
	if o.dest == nil {
		return DestinationInfo{}, fmt.Errorf("%w: %s may not read the destination chunk", ErrNotPermitted, o.Role)
	}
	return *o.dest, nil
}

func checkOpen(role Role, key hpke.PrivateKey, opt *OpenOptions) error {
	if role < RoleAuthor || role > RoleRecipient {
		return fmt.Errorf("%w: role %d", ErrInput, int(role))
	}
	if key == nil || key.KEM().ID() != KEM().ID() {
		return fmt.Errorf("%w: decryption key must be an ML-KEM-768+X25519 key", ErrInput)
	}
	switch {
	case role.readsContent() && opt.MIME == nil:
		return fmt.Errorf("%w: %s needs a MIME writer", ErrInput, role)
	case !role.readsContent() && opt.MIME != nil:
		return fmt.Errorf("%w: %s may not read headers, body or attachments", ErrNotPermitted, role)
	case role.readsContent() && opt.AuthorKey == nil:
		return fmt.Errorf("%w: %s must verify the author (AuthorKey)", ErrInput, role)
	case role == RoleDestination && opt.AuthorKey != nil:
		return fmt.Errorf("%w: destination may not learn the author", ErrNotPermitted)
	case role == RoleDestination && len(opt.OriginKeys) == 0:
		return fmt.Errorf("%w: destination must verify the origin signature (OriginKeys)", ErrInput)
	case opt.OriginKeysOf != nil && role != RoleRecipient:
		return fmt.Errorf("%w: only the recipient looks the origin keys up by domain (OriginKeysOf)", ErrInput)
	case opt.OriginKeysOf != nil && opt.OriginKeys != nil:
		return fmt.Errorf("%w: OriginKeys and OriginKeysOf together", ErrInput)
	case role == RoleRecipient && opt.Recipient == "":
		return fmt.Errorf("%w: recipient must name itself (Recipient)", ErrInput)
	case role != RoleRecipient && opt.Recipient != "":
		return fmt.Errorf("%w: only the recipient role checks Recipient", ErrInput)
	}
	return nil
}

// Open reads a message as role, with that role's HPKE private key, and
// returns what DESIGN §2 lets the role see (docs/spec/dmime.md §12):
//
//   - RoleOrigin: the origin chunk (author, destination domain).
//   - RoleDestination: the destination chunk (recipient, origin domain),
//     only after the origin signature verifies.
//   - RoleRecipient and RoleAuthor: both chunks, and the MIME message
//     written to opt.MIME.
//
// Open streams. Content reaches opt.MIME one segment at a time, each only
// after it authenticated under its section key; but the author's signature
// is checked at the end. Until Open returns nil, what was written to
// opt.MIME is unverified: it could come from anyone who held the section
// keys (such as a previous recipient re-sending a copy), and it may be cut
// short. A caller that streams must hold it as unverified, and discard it
// if Open fails.
func Open(r io.Reader, role Role, key hpke.PrivateKey, opt OpenOptions) (*Opened, error) {
	if err := checkOpen(role, key, &opt); err != nil {
		return nil, err
	}
	p, err := newParser(r, nil)
	if err != nil {
		return nil, err
	}
	defer p.release()
	buf := getSegBuf()
	defer putSegBuf(buf)
	o := &opener{role: role, key: key, opt: &opt, p: p, buf: (*buf)[:0]}
	for {
		c, err := p.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if err := o.chunk(c); err != nil {
			return nil, err
		}
	}
	res := &Opened{Role: role, ID: p.info.id, Layout: p.layout(), origin: o.origin, dest: o.dest, Carried: o.carried}
	if p.version() == version2 && role.readsContent() {
		if o.origin == nil || p.authorSig == nil {
			return nil, fmt.Errorf("%w: no author seal", ErrChunkOrder)
		}
		pub, err := opt.AuthorKey(o.origin.Author, o.origin.AuthorFingerprint, o.carried)
		if err != nil {
			return nil, fmt.Errorf("dmime: author key for %s: %w", o.origin.Author, err)
		}
		o.authorPub = pub
	}
	if o.authorPub != nil {
		if err := p.verifyAuthor(o.authorPub); err != nil {
			return nil, err
		}
		res.AuthorVerified = true
	}
	originKeys := opt.OriginKeys
	if opt.OriginKeysOf != nil {
		if o.dest == nil {
			return nil, fmt.Errorf("%w: no destination chunk", ErrChunkOrder)
		}
		if originKeys, err = opt.OriginKeysOf(o.dest.OriginDomain); err != nil {
			return nil, err
		}
		if len(originKeys) == 0 {
			return nil, fmt.Errorf("%w: no message keys for origin %s", ErrInput, o.dest.OriginDomain)
		}
	}
	if originKeys != nil {
		if err := p.verifyOrigin(originKeys); err != nil {
			return nil, err
		}
		res.OriginVerified = true
	}
	return res, nil
}

// opener holds the state of one Open.
type opener struct {
	role      Role
	key       hpke.PrivateKey
	opt       *OpenOptions
	p         *parser
	keys      *messageKeys
	sec       *segmentOpener // nil when the role may not read the section
	buf       []byte
	headers   [2][]byte
	origin    *OriginInfo
	dest      *DestinationInfo
	authorPub ed25519.PublicKey
	carried   *Carried // v2: what the author seal carries
}

func (o *opener) chunk(c *chunk) error {
	t := c.typ()
	if t == o.role.keyslot() {
		k, err := openKeyslot(o.key, t, c.payload, o.p.info, o.p.leaf0)
		o.keys = k
		return err
	}
	if t == typeAuthorSeal {
		if !o.role.readsContent() {
			return nil
		}
		sig, carried, err := openAuthorSeal(&o.keys.content, len(o.p.leaves), c.payload)
		if err != nil {
			return err
		}
		if o.origin == nil || signet.FingerprintOf(carried.Signet) != o.origin.AuthorFingerprint {
			return fmt.Errorf("%w: the sealed signet is not the author's the origin chunk names", ErrAuthorSignature)
		}
		o.p.authorSig, o.carried = sig, carried
		return nil
	}
	if !segmented(t) {
		return nil
	}
	if c.seg == 0 {
		k, err := o.sectionKey(t, c.section)
		if err != nil || k == nil {
			o.sec = nil
			return err
		}
		if o.sec, err = newSegmentOpener(t, k); err != nil {
			return err
		}
	}
	if o.sec == nil {
		return nil
	}
	pt, err := o.sec.open(o.buf, c)
	if err != nil {
		return err
	}
	return o.plaintext(t, pt, c.last)
}

// sectionKey returns the key of a section the role may read, or nil.
func (o *opener) sectionKey(t byte, index int) ([]byte, error) {
	switch {
	case t == typeOrigin && o.role.readsOrigin():
		return o.keys.origin[:], nil
	case t == typeDestination && o.role.readsDestination():
		return o.keys.dest[:], nil
	case t != typeOrigin && t != typeDestination && o.role.readsContent():
		return sectionKey(&o.keys.content, index, t)
	}
	return nil, nil
}

func (o *opener) plaintext(t byte, pt []byte, last bool) error {
	switch t {
	case typeOrigin:
		in, err := decodeOrigin(pt)
		if err != nil {
			return err
		}
		o.origin = in
		if o.opt.AuthorKey != nil && o.p.version() == version1 {
			pub, err := o.opt.AuthorKey(in.Author, in.AuthorFingerprint, nil)
			if err != nil {
				return fmt.Errorf("dmime: author key for %s: %w", in.Author, err)
			}
			o.authorPub = pub
		}
	case typeDestination:
		d, err := decodeDestination(pt)
		if err != nil {
			return err
		}
		if o.role == RoleRecipient && d.Recipient != o.opt.Recipient {
			return fmt.Errorf("%w: addressed to %q, not %q", ErrWrongRecipient, d.Recipient, o.opt.Recipient)
		}
		o.dest = d
	case typeCommonHeaders, typeOtherHeaders:
		i := int(t - typeCommonHeaders)
		o.headers[i] = append(o.headers[i], pt...)
		if t == typeOtherHeaders && last {
			block, err := decodeHeaderSections(o.headers[0], o.headers[1])
			if err != nil {
				return err
			}
			o.headers = [2][]byte{}
			return o.write(block)
		}
	case typePadding:
		for _, b := range pt {
			if b != 0 {
				return fmt.Errorf("%w: non-zero byte", ErrPadding)
			}
		}
	default: // display, structure, attachment
		return o.write(pt)
	}
	return nil
}

func (o *opener) write(b []byte) error {
	if _, err := o.opt.MIME.Write(b); err != nil {
		return fmt.Errorf("dmime: write MIME: %w", err)
	}
	return nil
}
