package provider

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"umbra/backoff"
	"umbra/dmtp"
	"umbra/provider/store"
)

// Relay tuning.
const (
	claimBatch = 16
	// defaultClaimLease bounds how long a claimed entry is held by a
	// worker that died without releasing it (another node takes it over
	// after that; this node releases its own at restart).
	defaultClaimLease = 2 * time.Minute
	// idlePoll is how often an idle worker looks for due entries when
	// nothing woke it (retries come due by the clock).
	idlePoll = time.Second
)

// relayWorker claims due queue entries and delivers them until ctx ends.
func (p *Provider) relayWorker(ctx context.Context, owner string) {
	for ctx.Err() == nil {
		entries, err := p.st.Queue().Claim(ctx, p.cfg.Now(), claimBatch, p.cfg.ClaimLease, owner)
		if err != nil {
			if ctx.Err() == nil {
				p.log.Error("queue claim", "err", err)
			}
		}
		if len(entries) == 0 {
			select {
			case <-ctx.Done():
			case <-p.kick:
			case <-time.After(idlePoll):
			}
			continue
		}
		p.relayBatch(ctx, owner, entries)
	}
}

// relayBatch delivers claimed entries, one connection per destination
// domain (DMTP for dark mail, SMTP for legacy mail), in claim order.
func (p *Provider) relayBatch(ctx context.Context, owner string, entries []store.QueueEntry) {
	type key struct {
		domain string
		legacy bool
	}
	byDomain := map[key][]store.QueueEntry{}
	var order []key
	for _, e := range entries {
		legacy, err := p.isLegacyQueued(ctx, e)
		if err != nil {
			// Dropped meanwhile, or unreadable now: left to its lease,
			// after which it is claimed again if it is still there.
			if !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
				p.log.Error("queue read", "id", e.ID, "err", err)
			}
			continue
		}
		k := key{e.Domain, legacy}
		if _, ok := byDomain[k]; !ok {
			order = append(order, k)
		}
		byDomain[k] = append(byDomain[k], e)
	}
	for _, k := range order {
		if k.legacy {
			p.relayLegacyDomain(ctx, owner, k.domain, byDomain[k])
		} else {
			p.relayDomain(ctx, owner, k.domain, byDomain[k])
		}
	}
}

func (p *Provider) relayDomain(ctx context.Context, owner, domain string, entries []store.QueueEntry) {
	r, err := p.remotes.get(ctx, domain)
	if err != nil {
		for _, e := range entries {
			p.failed(ctx, owner, e, err)
		}
		return
	}
	var cl *dmtp.Client
	defer func() {
		if cl != nil {
			cl.Quit()
		}
	}()
	for _, e := range entries {
		if ctx.Err() != nil {
			return // shutting down: the claims are released at the next start
		}
		if !p.leaseHolds(e) {
			continue
		}
		msg, err := p.st.Queue().Open(ctx, e.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue // completed or dropped since it was claimed
		}
		if err != nil {
			p.failed(ctx, owner, e, err)
			continue
		}
		if cl == nil {
			if cl, err = p.dial(ctx, r.dx, r.pin); err != nil {
				p.failed(ctx, owner, e, err)
				continue
			}
		}
		err = send(cl, p.domain, p.org.Signet.Fingerprint(), r, e, msg)
		if err != nil {
			// A failed transaction may leave the connection in any state:
			// start the next message on a fresh one.
			cl.Close()
			cl = nil
			p.failed(ctx, owner, e, err)
			continue
		}
		p.metrics.relays.WithLabelValues("delivered").Inc()
		if err := p.st.Queue().Complete(ctx, e.ID, owner); err != nil {
			// Delivered but not removed: it will be sent again, and the
			// destination stores it once (idempotent delivery).
			p.log.Error("queue complete", "id", e.ID, "err", err)
		}
	}
}

// leaseHolds reports whether the claim on e leaves time to send it. A
// batch is claimed under one lease and sent one entry after another; an
// entry whose lease is nearly spent when its turn comes is left alone
// until the lease runs out and a node (another, or this one) claims it
// afresh, so that two nodes never send it at once. A quarter of the lease
// is kept in hand for the transaction itself.
func (p *Provider) leaseHolds(e store.QueueEntry) bool {
	return p.cfg.Now().Before(e.LeaseUntil.Add(-p.cfg.ClaimLease / 4))
}

// send runs one DMTP transaction, reading the message msg of entry e
// from the store in pieces of MaxReadPiece as it sends it: on SQLite each
// read walks the message's pages from its start, so small reads would be
// slow.
func send(cl *dmtp.Client, origin string, originFP [32]byte, r *remoteOrg, e store.QueueEntry, msg io.ReaderAt) error {
	if err := cl.Mail(origin, originFP); err != nil {
		return err
	}
	if err := cl.Rcpt(e.Domain, r.org.Fingerprint()); err != nil {
		return err
	}
	// The buffer no larger than the message: most are far smaller.
	return cl.Data(bufio.NewReaderSize(io.NewSectionReader(msg, 0, e.Size), int(min(e.Size, store.MaxReadPiece))), e.Size)
}

// failed reschedules an entry with exponential back-off, or bounces it
// when the failure is permanent or the message has waited too long.
func (p *Provider) failed(ctx context.Context, owner string, e store.QueueEntry, err error) {
	if ctx.Err() != nil {
		return // shutting down: the claim is released at the next start
	}
	now := p.cfg.Now()
	var de *dmtp.Error
	var pe *permanentError
	perm := errors.As(err, &pe) || errors.As(err, &de) && !de.Temporary()
	if perm || now.Sub(e.Created) >= p.cfg.QueueMaxAge {
		p.metrics.relays.WithLabelValues("bounced").Inc()
		p.log.Warn("bouncing", "id", e.ID, "domain", e.Domain, "attempts", e.Attempts, "err", err)
		if berr := p.bounce(ctx, e, err); berr != nil {
			p.log.Error("bounce notice", "id", e.ID, "err", berr)
		}
		if derr := p.st.Queue().Drop(ctx, e.ID); derr != nil {
			p.log.Error("queue drop", "id", e.ID, "err", derr)
		}
		return
	}
	p.metrics.relays.WithLabelValues("retry").Inc()
	next := now.Add(backoff.Policy{Base: p.cfg.RetryBase, Max: p.cfg.RetryMax}.Delay(e.Attempts))
	p.log.Info("delivery deferred", "id", e.ID, "domain", e.Domain, "attempts", e.Attempts, "next", next, "err", err)
	if rerr := p.st.Queue().Reschedule(ctx, e.ID, owner, next, err.Error()); rerr != nil && ctx.Err() == nil {
		p.log.Error("queue reschedule", "id", e.ID, "err", rerr)
	}
}

// releaseOwnClaims makes the entries this node held when it last stopped
// due again at once: a restarted node resumes its queue without waiting
// for its old leases to expire.
func (p *Provider) releaseOwnClaims(ctx context.Context) error {
	entries, err := p.st.Queue().List(ctx)
	if err != nil {
		return fmt.Errorf("provider: queue: %w", err)
	}
	now := p.cfg.Now()
	for _, e := range entries {
		if strings.HasPrefix(e.LeaseOwner, p.cfg.Node+"/") && e.LeaseUntil.After(now) {
			if err := p.st.Queue().Reschedule(ctx, e.ID, e.LeaseOwner, now, "released at restart"); err != nil && !errors.Is(err, store.ErrLeaseLost) {
				return fmt.Errorf("provider: release claim %d: %w", e.ID, err)
			}
		}
	}
	return nil
}
