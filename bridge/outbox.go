package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"umbra/backoff"
	"umbra/bridge/mailstore"
	"umbra/bridge/syncdoc"
	"umbra/dmap"
	"umbra/dmime"
	"umbra/signet"
)

// outboxLoop sends what the outbox holds whenever something is queued,
// when a retry falls due, and every half minute in case the provider came
// back.
func (b *Bridge) outboxLoop(ctx context.Context) {
	for {
		next, err := b.Flush(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			b.setError("outbox", err)
		}
		wait := 30 * time.Second
		if !next.IsZero() {
			wait = min(wait, max(time.Until(next), 100*time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return
		case <-b.outboxWake:
		case <-time.After(wait):
		}
	}
}

// Flush tries every outbox entry that is due and returns when the earliest
// remaining one is next due (zero if none remains).
func (b *Bridge) Flush(ctx context.Context) (time.Time, error) {
	entries, err := b.store.Outbox(ctx)
	if err != nil {
		return time.Time{}, err
	}
	var next time.Time
	var firstErr error
	left := 0 // entries that stay for a later try
	now := b.now()
	for _, o := range entries {
		if o.NextTry.After(now) {
			next = earliest(next, o.NextTry)
			left++
			continue
		}
		if err := b.sendEntry(ctx, o); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			retry := b.now().Add(outboxRetry.Delay(o.Attempts + 1))
			if ferr := b.store.OutboxFailed(ctx, o.ID, err.Error(), retry); ferr != nil {
				return next, ferr
			}
			next = earliest(next, retry)
			left++
		}
	}
	b.st.setOutbox(left)
	return next, firstErr
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// outboxRetry is the wait before the outbox tries an entry again:
// doubling from 5 s up to 10 min, so a provider that is back is used
// within minutes.
var outboxRetry = backoff.Policy{Base: 5 * time.Second, Max: 10 * time.Minute}

// sendEntry seals the message for each remaining recipient and sends it.
// A recipient that can never be reached is dropped with a notice to the
// user; any other failure keeps the entry for a retry.
func (b *Bridge) sendEntry(ctx context.Context, o mailstore.Outgoing) error {
	for _, rcpt := range o.Recipients {
		err := b.sendTo(ctx, rcpt, o.MIME)
		if err != nil && !isPermanent(err) {
			b.st.setOnline(false)
			return fmt.Errorf("send to %s: %w", rcpt, b.relogin(ctx, err))
		}
		if err != nil {
			b.log.Warn("outbox: recipient dropped", "err", err)
			if nerr := b.bounce(ctx, rcpt, o.MIME, err); nerr != nil {
				return nerr
			}
		} else {
			b.st.sent()
		}
		if err := b.store.OutboxSent(ctx, o.ID, rcpt); err != nil {
			return err
		}
	}
	return nil
}

// sendTo seals mime for one recipient (DESIGN §5: a keyslot each for the
// author, the origin, the destination and the recipient) and sends it
// through the provider (docs/spec/dmap.md §10). Resending after a crash is
// harmless: the provider keys delivery on the content digest.
func (b *Bridge) sendTo(ctx context.Context, rcpt string, mime []byte) error {
	me, err := b.ownSignet(ctx)
	if err != nil {
		return fmt.Errorf("own signet: %w", err)
	}
	signing := b.signingKey()
	if !me.SigningKey.Equal(signing.Public()) {
		if took, err := b.takePendingKeys(ctx); err != nil {
			return err
		} else if took {
			signing = b.signingKey()
		}
	}
	if !me.SigningKey.Equal(signing.Public()) {
		// Another device rotated the account's keys and this one has
		// not taken them from the keyring document yet (keyring.go): a
		// signature with the old key would not verify against the signet
		// recipients get. The mail waits.
		return fmt.Errorf("the account's current signet %s is not this device's key: the keys were rotated on another device, and this device takes them when it syncs", me.Fingerprint())
	}
	domain := signet.DomainOf(rcpt)
	to, toTrust, fresh, err := b.recipientSignet(ctx, rcpt)
	if isPermanent(err) {
		if legacy, lerr := b.dir.IsLegacy(ctx, domain); legacy {
			return b.sendLegacy(ctx, rcpt, mime)
		} else if lerr != nil && !isPermanent(lerr) {
			return lerr
		}
		// A domain seen dark whose signets cannot be had now: held.
		if _, t, oerr := b.dir.Org(ctx, domain); oerr == nil && t.Warning != "" {
			return held(rcpt, t)
		}
	}
	if err != nil {
		return err
	}
	origin, _, err := b.dir.Org(ctx, signet.DomainOf(b.address))
	if err != nil {
		return err
	}
	dest, destTrust, err := b.dir.Org(ctx, domain)
	if err != nil {
		return err
	}
	for _, t := range []Trust{toTrust, destTrust} {
		if t.Warning != "" {
			return held(rcpt, t)
		}
	}
	if newest, t, ok := b.newerPinned(ctx, to); ok {
		b.log.Warn("the recipient's provider serves an older signet than the newest this device verified; sealing to the newest",
			"rcpt", rcpt, "served", to.Fingerprint(), "newest", newest.Fingerprint())
		to, toTrust = newest, t
	}
	if t, err := b.continuity(ctx, to, toTrust, nil); err != nil {
		return err
	} else if t.Level == LevelChanged {
		return b.heldForChange(ctx, to)
	}
	if !fresh {
		// Looked up: the pin stands for the current signet again from now.
		if p, ok, err := pinned(ctx, b.store, rcpt); err != nil {
			return err
		} else if ok && p.Equal(to.Fingerprint()) {
			if err := b.setPin(ctx, rcpt, p); err != nil {
				return err
			}
		}
	}
	carried, err := b.dir.Evidence(ctx, me, domain)
	if err != nil {
		return fmt.Errorf("the log evidence of the account's signet: %w", err)
	}
	var out bytes.Buffer
	if _, err := dmime.Seal(&out, bytes.NewReader(mime), dmime.SealParams{
		Author:      dmime.Party{Address: b.address, Fingerprint: me.Fingerprint(), Enc: me.Enc},
		AuthorKey:   signing,
		Carried:     carried, // version 2: signature and signet sealed for author and recipient alone
		Origin:      dmime.Party{Address: origin.Domain, Fingerprint: origin.Fingerprint(), Enc: origin.Enc},
		Destination: dmime.Party{Address: dest.Domain, Fingerprint: dest.Fingerprint(), Enc: dest.Enc},
		Recipient:   dmime.Party{Address: to.Address, Fingerprint: to.Fingerprint(), Enc: to.Enc},
	}); err != nil {
		return &permanentError{fmt.Errorf("seal for %s: %w", rcpt, err)}
	}
	_, err = b.cfg.Client.Send(ctx, out.Bytes())
	var de *dmap.Error
	if errors.As(err, &de) && (de.Code == dmap.CodeNoDarkMail || de.Code == dmap.CodeBadMessage || de.Code == dmap.CodeTooLarge) {
		return &permanentError{err}
	}
	return err
}

// held is the error of mail to rcpt that waits because the anchor of its
// domain is weaker than this device saw before (trust.go): it is retried,
// never sealed on weaker grounds without the user.
func held(rcpt string, t Trust) error {
	return fmt.Errorf("held: the keys of %s cannot be checked as before (%s; last good: %s); the message waits", rcpt, t.Warning, t.Level)
}

// bounce tells the user, in the inbox, that a recipient was dropped.
func (b *Bridge) bounce(ctx context.Context, rcpt string, mime []byte, cause error) error {
	subject := "(no subject)"
	if s := headerValue(mime, "Subject"); s != "" {
		subject = s
	}
	body := fmt.Sprintf("Your message %q could not be delivered to %s.\r\n\r\nReason: %v\r\n", subject, rcpt, cause)
	_, _, err := b.store.Add(ctx, mailstore.NewMessage{
		Key: syncdoc.NewKey(), Mailbox: mailstore.Inbox,
		MIME: noticeMIME("Undeliverable: "+subject, body),
	}, mailstore.Local)
	return err
}
