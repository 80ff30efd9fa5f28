package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"umbra/dmap"
	"umbra/signet"
)

// IsLegacy reports whether domain is outside Umbra: its provider answers
// that it has no organisation signet (no _dime record, docs/spec/dns.md
// §6). A domain that was seen dark and lost its record is not legacy:
// the provider answers a temporary error for it, and mail waits.
func (d *Directory) IsLegacy(ctx context.Context, domain string) (bool, error) {
	_, _, err := d.Org(ctx, domain)
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, ErrNoSignet):
		d.mu.Lock()
		if len(d.legacy) >= maxCached {
			clear(d.legacy)
		}
		d.legacy[domain] = d.now()
		d.mu.Unlock()
		return true, nil
	}
	return false, err
}

// knownLegacy reports whether domain was found legacy within orgTTL,
// without asking anyone.
func (d *Directory) knownLegacy(domain string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	at, ok := d.legacy[domain]
	return ok && d.now().Sub(at) < orgTTL
}

// encryptForLegacy makes, for each of rcpts known to be outside Umbra
// whose OpenPGP state says so (encryptionKey), the PGP/MIME message that
// recipient gets. Deciding here, once, is what lets the Sent copy say
// truthfully who got the message encrypted.
func (b *Bridge) encryptForLegacy(ctx context.Context, rcpts []string, mime []byte) (map[string][]byte, error) {
	out := map[string][]byte{}
	reply := b.repliesToEncrypted(ctx, mime)
	for _, r := range rcpts {
		if !b.dir.knownLegacy(signet.DomainOf(r)) {
			continue
		}
		key, err := b.legacyKey(ctx, r, reply)
		if err != nil {
			return nil, err
		}
		if key == nil {
			continue
		}
		if out[r], err = b.encryptLegacy(mime, key); err != nil {
			return nil, fmt.Errorf("OpenPGP for %s: %w", r, err)
		}
	}
	return out, nil
}

// sendLegacy hands mime for rcpt, outside Umbra, to the provider's legacy
// relay (docs/spec/legacy.md §3). The provider reads it, unless it was
// OpenPGP-encrypted at submission. Mail that reaches here plain (its
// recipient could not be checked at submission) gets the Autocrypt field,
// and is refused while the account is dark only.
func (b *Bridge) sendLegacy(ctx context.Context, rcpt string, mime []byte) error {
	if !isPGPEncrypted(mime) {
		if b.DarkOnly() {
			return &permanentError{fmt.Errorf("%s is not an Umbra address and this account sends only end-to-end encrypted mail (dark only); it was not sent", rcpt)}
		}
		mime = b.withAutocrypt(mime)
	}
	_, err := b.cfg.Client.SendLegacy(ctx, rcpt, mime)
	var de *dmap.Error
	if errors.As(err, &de) {
		switch de.Code {
		case dmap.CodeDarkMail:
			// The domain became an Umbra domain since: the next attempt
			// seals it.
			return fmt.Errorf("%s is an Umbra address now: %w", rcpt, err)
		case dmap.CodeForbidden, dmap.CodeNotAuthor, dmap.CodeBadMessage, dmap.CodeTooLarge, dmap.CodeBadField:
			return &permanentError{err}
		}
	}
	return err
}

// sentVerdict is the Umbra-Security value of the author's Sent copy: it
// says plainly which recipients got the message without end-to-end
// encryption, through the provider, and which got it OpenPGP-encrypted
// (encrypted has their messages).
func (b *Bridge) sentVerdict(rcpts []string, encrypted map[string][]byte) string {
	var plain, enc []string
	for _, r := range rcpts {
		switch {
		case encrypted[r] != nil:
			enc = append(enc, r)
		case b.dir.knownLegacy(signet.DomainOf(r)):
			plain = append(plain, r)
		}
	}
	if len(plain) == 0 && len(enc) == 0 {
		return fmt.Sprintf(verdictOwn, b.address)
	}
	provider := signet.DomainOf(b.address)
	var parts []string
	if len(plain) > 0 {
		parts = append(parts, fmt.Sprintf("sent without end-to-end encryption through your provider %s, which read it, to %s",
			provider, strings.Join(plain, ", ")))
	}
	if len(enc) > 0 {
		parts = append(parts, fmt.Sprintf("sent OpenPGP-encrypted and signed (openpgp=%s) through your provider %s, which saw only the envelope and the header fields left outside (From, To, Cc, Date, message IDs), to %s",
			b.pgpKey.Fingerprint(), provider, strings.Join(enc, ", ")))
	}
	return fmt.Sprintf("legacy; %s; signed=%s; key=own", strings.Join(parts, "; "), b.address)
}
