package bridge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"

	"umbra/autocrypt"
	"umbra/bridge/mailstore"
	"umbra/pgp"
	"umbra/signet"
	"umbra/vault"
)

// OpenPGP with the legacy world (docs/spec/legacy-pgp.md §7): the account's
// own OpenPGP key lives in the vault; what the bridge knows of each legacy
// correspondent's key — from Autocrypt headers of their mail (Autocrypt
// Level 1 §2.3) or imported by the user — lives in the encrypted store.

// EnsureOpenPGPKey returns the account's OpenPGP key from keys, first
// making one (pgp.GenerateKey: Ed25519 and X25519) and putting it into keys
// when there is none (a new account, or one made before OpenPGP); made
// reports that, so the caller can save the vault.
func EnsureOpenPGPKey(keys *vault.Keys, now time.Time) (k *pgp.Key, made bool, err error) {
	if keys.OpenPGP == nil {
		if k, err = pgp.GenerateKey(keys.Address, now); err != nil {
			return nil, false, fmt.Errorf("bridge: make the OpenPGP key: %w", err)
		}
		keys.OpenPGP = k.PrivateBytes()
		return k, true, nil
	}
	if k, err = pgp.ParsePrivateKey(keys.OpenPGP, now); err != nil {
		return nil, false, fmt.Errorf("bridge: the vault's OpenPGP key: %w", err)
	}
	return k, false, nil
}

// OpenPGPKey is the account's OpenPGP key (its public half is what
// `umbra keys pgp-export` prints and every legacy message carries in its
// Autocrypt header).
func (b *Bridge) OpenPGPKey() *pgp.Key { return b.pgpKey }

// MadeOpenPGPKey reports that Open made the account's OpenPGP key because
// the vault had none: the caller should save Config.Keys to the vault.
func (b *Bridge) MadeOpenPGPKey() bool { return b.pgpMade }

// peerState is the name under which the store keeps a correspondent's
// OpenPGP state.
func peerState(address string) string { return "openpgp:" + strings.ToLower(address) }

// peerRecord is a correspondent's OpenPGP state as stored: the Autocrypt
// peer state (Level 1 §2.3), a key the user imported and the key of the
// address's Web Key Directory, each with the time it was learnt (which
// decides merges with the user's other devices: contactsync.go). Keys are
// binary transferable public keys.
type peerRecord struct {
	LastSeen           time.Time `json:"last_seen,omitzero"`
	AutocryptTimestamp time.Time `json:"autocrypt_timestamp,omitzero"`
	AutocryptKey       []byte    `json:"autocrypt_key,omitempty"`
	PreferMutual       bool      `json:"prefer_mutual,omitempty"`
	Imported           []byte    `json:"imported_key,omitempty"`
	ImportedAt         time.Time `json:"imported_at,omitzero"`
	// Published is the key the address's domain publishes in its Web
	// Key Directory, if any, as looked up at WKDAt; WKDNext is when to
	// look it up again (§7.2).
	Published []byte    `json:"wkd_key,omitempty"`
	WKDAt     time.Time `json:"wkd_at,omitzero"`
	WKDNext   time.Time `json:"wkd_next,omitzero"`
}

// peer is a correspondent's state in use: keys no longer usable at the
// time it was loaded (expired, revoked) are left out.
type peer struct {
	auto        autocrypt.Peer
	imported    *pgp.PublicKey
	importedAt  time.Time
	published   *pgp.PublicKey // from WKD (wkd.go)
	publishedAt time.Time
	wkdNext     time.Time
}

// canEncrypt reports whether k is a key to encrypt to now.
func canEncrypt(k *pgp.PublicKey, now time.Time) bool { return k != nil && k.CanEncrypt(now) }

// loadRecord reads address's stored state; a correspondent never seen is
// the zero record.
func (b *Bridge) loadRecord(ctx context.Context, address string) (peerRecord, error) {
	var r peerRecord
	raw, err := b.store.GetState(ctx, peerState(address))
	if errors.Is(err, mailstore.ErrNotFound) {
		return r, nil
	}
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("OpenPGP state of %s: %w", address, err)
	}
	return r, nil
}

// saveRecord stores address's state.
func (b *Bridge) saveRecord(ctx context.Context, address string, r peerRecord) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("OpenPGP state of %s: %w", address, err)
	}
	return b.store.SetState(ctx, peerState(address), raw)
}

// loadPeer reads address's state in use.
func (b *Bridge) loadPeer(ctx context.Context, address string, now time.Time) (peer, error) {
	r, err := b.loadRecord(ctx, address)
	if err != nil {
		return peer{}, err
	}
	p := peer{auto: autocrypt.Peer{LastSeen: r.LastSeen, AutocryptTimestamp: r.AutocryptTimestamp},
		importedAt: r.ImportedAt, publishedAt: r.WKDAt, wkdNext: r.WKDNext}
	if r.PreferMutual {
		p.auto.PreferEncrypt = autocrypt.Mutual
	}
	// A key that no longer parses (expired since) is as good as none for
	// sending; §2.4 then says disable.
	if r.AutocryptKey != nil {
		p.auto.Key, _ = pgp.ParsePublicKey(r.AutocryptKey, now)
	}
	if r.Imported != nil {
		p.imported, _ = pgp.ParsePublicKey(r.Imported, now)
	}
	if r.Published != nil {
		p.published, _ = pgp.ParsePublicKey(r.Published, now)
	}
	return p, nil
}

// record is p as stored.
func (p peer) record() peerRecord {
	r := peerRecord{LastSeen: p.auto.LastSeen, AutocryptTimestamp: p.auto.AutocryptTimestamp,
		PreferMutual: p.auto.PreferEncrypt == autocrypt.Mutual,
		ImportedAt:   p.importedAt, WKDAt: p.publishedAt, WKDNext: p.wkdNext}
	if p.auto.Key != nil {
		r.AutocryptKey = p.auto.Key.Bytes()
	}
	if p.imported != nil {
		r.Imported = p.imported.Bytes()
	}
	if p.published != nil {
		r.Published = p.published.Bytes()
	}
	return r
}

// updatePeer changes address's stored state with change, which reports
// whether it changed anything. peerMu makes the read, change and write one
// step against the bridge's other writers (received Autocrypt headers,
// WKD answers arriving during submissions).
func (b *Bridge) updatePeer(ctx context.Context, address string, now time.Time, change func(*peer) bool) error {
	b.peerMu.Lock()
	defer b.peerMu.Unlock()
	p, err := b.loadPeer(ctx, address, now)
	if err != nil {
		return err
	}
	if !change(&p) {
		return nil
	}
	if err := b.saveRecord(ctx, address, p.record()); err != nil {
		return err
	}
	return b.contactChanged(ctx, address)
}

// ImportContactKey stores key in the local store of the account in dir
// (`umbra keys import`) as the OpenPGP key of each address its valid user
// IDs name, and returns those addresses. It works beside a running bridge
// (the store is SQLite in WAL mode, which lets processes share it), which
// reads the key on the next message. A key the user imports is used for
// every message to them, whatever Autocrypt says.
func ImportContactKey(ctx context.Context, dir string, keys *vault.Keys, key *pgp.PublicKey) ([]string, error) {
	store, err := openStore(dir, keys)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	b := &Bridge{store: store}
	return b.importKey(ctx, key)
}

// importKey is ImportContactKey on the bridge's store.
func (b *Bridge) importKey(ctx context.Context, key *pgp.PublicKey) ([]string, error) {
	now := b.now()
	var done []string
	for _, a := range key.Addresses() {
		if !key.HasAddress(a, now) {
			continue // a revoked user ID
		}
		a = strings.ToLower(a)
		if err := b.updatePeer(ctx, a, now, func(p *peer) bool { p.imported, p.importedAt = key, now; return true }); err != nil {
			return done, err
		}
		done = append(done, a)
	}
	if len(done) == 0 {
		return nil, fmt.Errorf("key %s names no e-mail address in a valid user ID", key.Fingerprint())
	}
	return done, nil
}

// encryptionKey decides whether a message to a legacy correspondent p is
// OpenPGP-encrypted, and returns the key to encrypt to, or nil to send it
// plain. A key the user imported is always used. Otherwise the Autocrypt
// recommendation decides (Level 1 §2.4: we prefer mutual, so a peer that
// prefers mutual too gets encrypted mail, and so does a reply to an
// encrypted message); dark only uses any usable key, since the alternative
// is not sending at all. Failing those, a key the address's domain
// publishes in its Web Key Directory is used: publishing one there is
// asking for encrypted mail (§7.2).
func encryptionKey(p peer, darkOnly, replyToEncrypted bool, now time.Time) *pgp.PublicKey {
	if canEncrypt(p.imported, now) {
		return p.imported
	}
	rec := autocrypt.Recommend(autocrypt.Mutual, []autocrypt.Peer{p.auto}, replyToEncrypted, now)
	if rec == autocrypt.Encrypt || darkOnly && rec != autocrypt.Disable {
		return p.auto.Key
	}
	if canEncrypt(p.published, now) {
		return p.published
	}
	return nil
}

// legacyKey is encryptionKey for the correspondent address.
func (b *Bridge) legacyKey(ctx context.Context, address string, replyToEncrypted bool) (*pgp.PublicKey, error) {
	now := b.now()
	p, err := b.loadPeer(ctx, address, now)
	if err != nil {
		return nil, err
	}
	if p, err = b.discover(ctx, address, p, now); err != nil {
		return nil, err
	}
	return encryptionKey(p, b.DarkOnly(), replyToEncrypted, now), nil
}

// encryptedState is the store's name for the mark that the message with
// Message-ID id reached this account OpenPGP-encrypted: a reply to it is
// encrypted if at all possible (Autocrypt Level 1 §2.4.2).
func encryptedState(id string) string { return "openpgp-encrypted:" + id }

// firstMsgID is the first <msg-id> of a Message-ID, In-Reply-To or
// References value (RFC 5322 §3.6.4), or "".
func firstMsgID(v string) string {
	_, rest, ok := strings.Cut(v, "<")
	id, _, closed := strings.Cut(rest, ">")
	if !ok || !closed || id == "" {
		return ""
	}
	return "<" + id + ">"
}

// repliesToEncrypted reports whether mime answers (In-Reply-To) a message
// that reached this account OpenPGP-encrypted.
func (b *Bridge) repliesToEncrypted(ctx context.Context, mime []byte) bool {
	id := firstMsgID(headerValue(mime, "In-Reply-To"))
	if id == "" {
		return false
	}
	_, err := b.store.GetState(ctx, encryptedState(id))
	return err == nil
}

// autocryptField is this account's Autocrypt header field (Level 1
// §2.1), CRLF-terminated: every legacy message carries it, outside any
// encryption.
func (b *Bridge) autocryptField() []byte {
	h := &autocrypt.Header{Addr: b.address, PreferEncrypt: autocrypt.Mutual, Key: b.pgpKey.Public()}
	return []byte("Autocrypt: " + autocrypt.Format(h) + "\r\n")
}

// withAutocrypt returns mime with the account's Autocrypt field on top,
// unless it has one already (added when it was encrypted).
func (b *Bridge) withAutocrypt(mime []byte) []byte {
	if headerValue(mime, "Autocrypt") != "" {
		return mime
	}
	return append(b.autocryptField(), mime...)
}

// encryptLegacy makes the PGP/MIME message (RFC 3156, header protection
// of RFC 9788) for rcpt: encrypted to key and to our own key, signed by
// ours, with the Autocrypt field outside.
func (b *Bridge) encryptLegacy(mime []byte, key *pgp.PublicKey) ([]byte, error) {
	enc, err := pgp.Encrypt(bytes.NewReader(mime), b.pgpKey, []*pgp.PublicKey{key}, b.now())
	if err != nil {
		return nil, err
	}
	return append(b.autocryptField(), enc...), nil
}

// isPGPEncrypted reports whether mime is PGP/MIME encrypted (RFC 3156 §4).
func isPGPEncrypted(mime []byte) bool {
	t, params, err := parseMediaType(headerValue(mime, "Content-Type"))
	return err == nil && t == "multipart/encrypted" && strings.EqualFold(params["protocol"], "application/pgp-encrypted")
}

func parseMediaType(v string) (string, map[string]string, error) {
	if v == "" {
		return "text/plain", nil, nil
	}
	return mime.ParseMediaType(v)
}

// openLegacy is what the bridge does with legacy mail its provider's MX
// sealed (docs/spec/legacy-pgp.md §7.3): it opens OpenPGP (PGP/MIME or
// inline), picks up the sender's Autocrypt header, and stamps the verdict.
func (b *Bridge) openLegacy(ctx context.Context, msg []byte, domain string) []byte {
	tr, ok := readTrace(msg, domain)
	if !ok {
		return stamp(msg, fmt.Sprintf(verdictProvider, domain))
	}
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(msg)))
	if err != nil {
		b.log.Info("legacy mail: header does not parse; shown as it came", "err", err)
		return stamp(msg, legacyVerdict(tr, ""))
	}
	from := singleAddress(h.Get("From"))
	now := b.now()
	p, err := b.loadPeer(ctx, from, now)
	if err != nil {
		b.log.Warn("legacy mail: OpenPGP state of the sender", "err", err)
	}
	opened, verdict := b.openPGP(msg, from, p, now)
	if id := firstMsgID(headerValue(opened, "Message-ID")); id != "" && strings.HasPrefix(verdict, "encrypted,") {
		if err := b.store.SetState(ctx, encryptedState(id), []byte("1")); err != nil {
			b.log.Warn("legacy mail: remember that it came encrypted", "err", err)
		}
	}
	b.pickUpAutocrypt(ctx, h, from, tr, now)
	return stamp(opened, legacyVerdict(tr, verdict))
}

// openPGP decrypts and verifies msg if it is OpenPGP (pgp.Decrypt) and
// returns the message to show and the openpgp= part of the verdict ("" for
// mail that is not OpenPGP). The opened message replaces the original only
// when it was encrypted or its signature is good: otherwise its inner
// (protected) header fields are no more trustworthy than the outer ones and
// the original stays, with the verdict saying why.
func (b *Bridge) openPGP(msg []byte, from string, p peer, now time.Time) ([]byte, string) {
	lookup := func(id uint64) *pgp.PublicKey {
		for _, k := range []*pgp.PublicKey{p.imported, p.auto.Key, p.published} {
			if k != nil && k.HasKeyID(id) {
				return k
			}
		}
		return nil
	}
	res, err := pgp.Decrypt(bytes.NewReader(msg), []*pgp.Key{b.pgpKey}, lookup)
	switch {
	case errors.Is(err, pgp.ErrNotOpenPGP):
		return msg, ""
	case err != nil:
		// The sender's fault or an attacker's, not ours: INFO.
		b.log.Info("legacy mail: OpenPGP message does not open; shown as it came", "err", err)
		return msg, "unreadable"
	}
	shown := from
	if res.Encrypted || res.Signature == pgp.SignatureGood {
		msg = append(traceFields(msg), res.Message...)
		if res.HeadersProtected {
			shown = singleAddress(headerValue(res.Message, "From"))
		}
	}
	v := pgpVerdict(res, shown, now)
	if !strings.EqualFold(shown, from) {
		// RFC 9788 lets the inner From differ; the MX checked the outer.
		v += ",outer-from=" + from
	}
	return msg, v
}

// pgpVerdict spells what pgp.Decrypt found: "encrypted" or
// "not-encrypted", then the signature: "signed-good(FINGERPRINT)" (a good
// signature by a key bound to from), "signed-good-other(FINGERPRINT)" (good,
// by a key not bound to from), "signed-bad", "signed-unknown" (by a key we
// do not have) or "unsigned".
func pgpVerdict(res *pgp.Result, from string, now time.Time) string {
	enc := "not-encrypted"
	if res.Encrypted {
		enc = "encrypted"
	}
	var sig string
	switch res.Signature {
	case pgp.SignatureGood:
		sig = "signed-good(" + res.Signer + ")"
		if !res.SignerKey.HasAddress(from, now) {
			sig = "signed-good-other(" + res.Signer + ")"
		}
	case pgp.SignatureBad:
		sig = "signed-bad"
	case pgp.SignatureUnknownKey:
		sig = "signed-unknown"
	default:
		sig = "unsigned"
	}
	return enc + "," + sig
}

// pickUpAutocrypt updates the sender's Autocrypt state from a message
// (Level 1 §2.3) with the header findAutocrypt takes. A header it does not
// take is logged at INFO and ignored, exactly as if it were absent.
func (b *Bridge) pickUpAutocrypt(ctx context.Context, h textproto.Header, from string, tr trace, now time.Time) {
	if from == "" {
		return
	}
	if t, _, err := parseMediaType(h.Get("Content-Type")); err != nil || t == "multipart/report" {
		return
	}
	found, err := findAutocrypt(h, from, tr, now)
	if err != nil {
		b.log.Info("legacy mail: Autocrypt header ignored", "err", err)
	}
	date, _ := mail.ParseDate(h.Get("Date"))
	err = b.updatePeer(ctx, from, now, func(q *peer) bool {
		next := autocrypt.Update(q.auto, found, date, now)
		changed := next != q.auto
		q.auto = next
		return changed
	})
	if err != nil {
		b.log.Warn("legacy mail: save the sender's Autocrypt state", "err", err)
	}
}

// findAutocrypt returns the Autocrypt header of a message from from (nil
// if it has none to take) and why it took none. Beyond the Level 1 rules
// (autocrypt.Find: one valid header whose addr is From), the header counts
// only when the provider's MX authenticated the From domain: otherwise
// anyone could plant a key for any address.
func findAutocrypt(h textproto.Header, from string, tr trace, now time.Time) (*autocrypt.Header, error) {
	values := h.Values("Autocrypt")
	if len(values) == 0 {
		return nil, nil
	}
	found, err := autocrypt.Find(values, from, now)
	if found != nil && !tr.authenticates(from) {
		return nil, fmt.Errorf("the MX did not authenticate the sender's domain %s", signet.DomainOf(from))
	}
	return found, err
}

// singleAddress is the one address of a From field, lower-cased, or ""
// when it has none or several (Autocrypt Level 1 §2.3 then ignores the
// message).
func singleAddress(v string) string {
	list, err := mail.ParseAddressList(v)
	if err != nil || len(list) != 1 {
		return ""
	}
	return strings.ToLower(list[0].Address)
}
