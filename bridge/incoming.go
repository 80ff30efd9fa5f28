package bridge

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"errors"
	"fmt"
	"strings"

	"umbra/dmime"
	"umbra/signet"
)

// permanentError marks a failure that retrying cannot fix: a malformed or
// forged message, a signet that does not verify.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func isPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p) || errors.Is(err, ErrNoSignet)
}

// openMail opens a delivered D/MIME message as its recipient (DESIGN §5,
// docs/spec/dmime.md §12): the keyslot with the current encryption key or
// a retired one, the author signature with the author's signet (validated
// through the Directory), the origin signature with the origin
// organisation's message keys, all in one pass. It returns the MIME
// stamped with the verdict.
func (b *Bridge) openMail(ctx context.Context, data []byte) ([]byte, error) {
	keys, err := b.decryptionKeys()
	if err != nil {
		return nil, err
	}
	var trust Trust
	var author *signet.User
	var dirErr error // a failure of the Directory, classified there
	var legacy bool
	authorKey := func(address string, fp signet.Fingerprint, carried *dmime.Carried) (ed25519.PublicKey, error) {
		if !strings.Contains(address, "@") {
			legacy = true
			k, err := b.mxKey(ctx, address, fp)
			if err != nil {
				dirErr = err
			}
			return k, err
		}
		var u *signet.User
		var t Trust
		var err error
		if carried != nil {
			u, t, err = b.dir.UserCarried(ctx, address, fp, carried)
		} else {
			u, t, err = b.dir.User(ctx, address, fp)
		}
		if err != nil {
			dirErr = fmt.Errorf("author's signet: %w", err)
			return nil, err
		}
		author, trust = u, t
		return u.SigningKey, nil
	}
	// The origin's keys are looked up by the domain the message names, in
	// the same pass: a second pass over the message for the origin
	// signature cost a fifth of opening it (CPU profile of a 3,000-message
	// initial sync).
	var origin string
	originKeys := func(domain string) ([]ed25519.PublicKey, error) {
		org, _, err := b.dir.Org(ctx, domain)
		if err != nil {
			dirErr = fmt.Errorf("signet of origin %s: %w", domain, err)
			return nil, err
		}
		origin = domain
		return org.MessageKeys(), nil
	}
	var mime bytes.Buffer
	mime.Grow(len(data)) // the MIME is a little smaller than its sealed form
	var opened *dmime.Opened
	for _, k := range keys {
		mime.Reset()
		opened, err = dmime.Open(bytes.NewReader(data), dmime.RoleRecipient, k, dmime.OpenOptions{
			MIME: &mime, AuthorKey: authorKey, OriginKeysOf: originKeys, Recipient: b.address,
		})
		if !errors.Is(err, dmime.ErrKeyslot) {
			break
		}
	}
	if err != nil {
		if dirErr != nil {
			return nil, dirErr
		}
		return nil, &permanentError{fmt.Errorf("open: %w", err)}
	}
	if legacy {
		return b.openLegacy(ctx, mime.Bytes(), origin), nil
	}
	var earlier [][]byte
	if opened.Carried != nil {
		earlier = opened.Carried.Chain
	}
	if trust, err = b.continuity(ctx, author, trust, earlier); err != nil && !errors.Is(err, errUnchecked) {
		return nil, err
	}
	// Gossip (docs/spec/keylog.md §10): the author's view of this
	// account's provider's log must be this device's. Not being able to
	// ask now does not hold the mail back; the next audit asks again.
	if finding, err := b.dir.Gossip(ctx, author.Address, opened.Carried); err != nil {
		b.log.Info("gossip: cannot check the log the author saw now", "author", author.Address, "err", err)
	} else if finding != "" {
		if err := b.gossipAlarm(ctx, finding); err != nil {
			return nil, err
		}
	}
	verdict := fmt.Sprintf("encrypted; signed=%s; key=%s; origin=%s", author.Address, trust, origin)
	return stamp(mime.Bytes(), verdict), nil
}

// decryptionKeys are the current encryption key and the retired ones,
// newest first, expanded from their seeds once per key set (an ML-KEM-768
// key expansion per message cost a tenth of opening it).
func (b *Bridge) decryptionKeys() ([]hpke.PrivateKey, error) {
	b.keysMu.RLock()
	keys := b.decKeys
	b.keysMu.RUnlock()
	if keys != nil {
		return keys, nil
	}
	b.keysMu.Lock()
	defer b.keysMu.Unlock()
	if b.decKeys != nil {
		return b.decKeys, nil
	}
	k, err := b.cfg.Keys.EncryptionKey()
	if err != nil {
		return nil, err
	}
	keys = []hpke.PrivateKey{k}
	for i := len(b.cfg.Keys.Retired) - 1; i >= 0; i-- {
		if k, err = b.cfg.Keys.Retired[i].EncryptionKey(); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	b.decKeys = keys
	return keys, nil
}
