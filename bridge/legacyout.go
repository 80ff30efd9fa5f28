package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

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
		d.legacy[domain] = time.Now()
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
	return ok && time.Since(at) < orgTTL
}

// sendLegacy hands mime for rcpt, outside Umbra, to the provider's legacy
// relay (docs/spec/legacy.md §3). The provider reads it.
func (b *Bridge) sendLegacy(ctx context.Context, rcpt string, mime []byte) error {
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
// encryption, through the provider.
func (b *Bridge) sentVerdict(rcpts []string) string {
	var plain []string
	for _, r := range rcpts {
		if b.dir.knownLegacy(signet.DomainOf(r)) {
			plain = append(plain, r)
		}
	}
	if len(plain) == 0 {
		return fmt.Sprintf(verdictOwn, b.address)
	}
	return fmt.Sprintf("legacy; sent without end-to-end encryption through your provider %s, which read it, to %s; signed=%s; key=own",
		signet.DomainOf(b.address), strings.Join(plain, ", "), b.address)
}
