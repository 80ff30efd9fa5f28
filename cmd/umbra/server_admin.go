package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"umbra/provider"
	"umbra/provider/store"
	"umbra/signet"
)

// canonicalAddress lower-cases the domain of an address (the local part
// is case-sensitive) and checks the result.
func canonicalAddress(a string) (string, error) {
	local, domain, _ := strings.Cut(a, "@")
	if domain != "" {
		a = local + "@" + strings.ToLower(strings.TrimSuffix(domain, "."))
	}
	if err := signet.CheckAddress(a); err != nil {
		return "", usageErrorf("%v", err)
	}
	return a, nil
}

func runUserAdd(c *cmd) error {
	dir := dirFlag(c.flags)
	args, err := c.parse(1, 1)
	if err != nil {
		return err
	}
	addr, err := canonicalAddress(args[0])
	if err != nil {
		return err
	}
	return withProvider(*dir, func(ctx context.Context, p *provider.Provider) error {
		code, err := p.AddUser(ctx, addr)
		if errors.Is(err, store.ErrExists) {
			return fmt.Errorf("%s already has an account (see umbra server user list)", addr)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "Invited %s. Invitation code, shown only this once:\n\n    %s\n\n", addr, code)
		fmt.Fprintf(c.stdout, "Give it to the user over a channel you trust (in person, by phone). On their device:\n\n"+
			"    umbra account create %s --invite %s\n\n"+
			"makes their keys there and completes the account over DMAP. It works once; the provider\n"+
			"keeps only its hash.\n", addr, code)
		return nil
	})
}

func runUserList(c *cmd) error {
	dir := dirFlag(c.flags)
	if _, err := c.parse(0, 0); err != nil {
		return err
	}
	return withProvider(*dir, func(ctx context.Context, p *provider.Provider) error {
		accts, err := p.Store().Accounts().List(ctx)
		if err != nil {
			return err
		}
		if len(accts) == 0 {
			fmt.Fprintln(c.stdout, "no accounts; add one with umbra server user add ADDRESS")
			return nil
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ADDRESS\tSTATE\tMODE\tCREATED")
		for _, a := range accts {
			mode := string(a.Mode)
			if mode == "" {
				mode = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Address, a.State, mode, stamp(a.Created))
		}
		return tw.Flush()
	})
}

func runUserDisable(c *cmd) error {
	dir := dirFlag(c.flags)
	args, err := c.parse(1, 1)
	if err != nil {
		return err
	}
	addr, err := canonicalAddress(args[0])
	if err != nil {
		return err
	}
	return withProvider(*dir, func(ctx context.Context, p *provider.Provider) error {
		a, err := p.Store().Accounts().Get(ctx, addr)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no account %s", addr)
		}
		if err != nil {
			return err
		}
		if a.State == store.StateDisabled {
			fmt.Fprintf(c.stdout, "%s was already disabled\n", addr)
			return nil
		}
		if err := p.Store().Accounts().Disable(ctx, addr); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "disabled %s (was %s): it receives no mail and cannot sign in, for good\n", addr, a.State)
		return nil
	})
}

func runQueueList(c *cmd) error {
	dir := dirFlag(c.flags)
	if _, err := c.parse(0, 0); err != nil {
		return err
	}
	return withProvider(*dir, func(ctx context.Context, p *provider.Provider) error {
		entries, err := p.Store().Queue().List(ctx)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			fmt.Fprintln(c.stdout, "the outbound queue is empty")
			return nil
		}
		now := time.Now()
		tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tDOMAIN\tSIZE\tAGE\tATTEMPTS\tNEXT ATTEMPT\tLAST ERROR")
		for _, e := range entries {
			next := "due now"
			switch {
			case e.LeaseOwner != "" && e.LeaseUntil.After(now):
				next = "being delivered by " + printable(e.LeaseOwner)
			case e.NextAttempt.After(now):
				next = "in " + span(e.NextAttempt.Sub(now))
			}
			lastErr := printable(e.LastError)
			if lastErr == "" {
				lastErr = "-"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", e.ID, e.Domain, size(e.Size), span(now.Sub(e.Created)), e.Attempts, next, lastErr)
		}
		return tw.Flush()
	})
}

// queueEntry parses an entry id and fetches the entry.
func queueEntry(ctx context.Context, p *provider.Provider, arg string) (store.QueueEntry, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id < 1 {
		return store.QueueEntry{}, usageErrorf("%q is not a queue entry id (see umbra server queue list)", arg)
	}
	e, err := p.Store().Queue().Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return e, fmt.Errorf("no queue entry %d (delivered, bounced or dropped; see umbra server queue list)", id)
	}
	return e, err
}

func runQueueRetry(c *cmd) error {
	dir := dirFlag(c.flags)
	args, err := c.parse(1, 1)
	if err != nil {
		return err
	}
	return withProvider(*dir, func(ctx context.Context, p *provider.Provider) error {
		e, err := queueEntry(ctx, p, args[0])
		if err != nil {
			return err
		}
		// A claimed entry is released too: if its worker is still
		// delivering, the destination may receive the message twice and
		// stores it once (delivery is idempotent).
		if err := p.Store().Queue().Retry(ctx, e.ID, time.Now()); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("entry %d left the queue meanwhile (delivered or bounced)", e.ID)
		} else if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "entry %d is due now; a running server sends it within seconds\n", e.ID)
		return nil
	})
}

func runQueueDrop(c *cmd) error {
	dir := dirFlag(c.flags)
	args, err := c.parse(1, 1)
	if err != nil {
		return err
	}
	return withProvider(*dir, func(ctx context.Context, p *provider.Provider) error {
		e, err := queueEntry(ctx, p, args[0])
		if err != nil {
			return err
		}
		if err := p.Store().Queue().Drop(ctx, e.ID); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("entry %d left the queue meanwhile (delivered or bounced)", e.ID)
		} else if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "dropped entry %d (%s to %s, queued %s ago); the author is not notified\n", e.ID, size(e.Size), e.Domain, span(time.Since(e.Created)))
		return nil
	})
}

// stamp formats a time for the operator's tables.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") }

// span formats a duration to its two largest units: 45s, 12m05s, 3h05m,
// 2d04h.
func span(d time.Duration) string {
	n := int64(max(d, 0) / time.Second)
	switch {
	case n < 60:
		return fmt.Sprintf("%ds", n)
	case n < 3600:
		return fmt.Sprintf("%dm%02ds", n/60, n%60)
	case n < 86400:
		return fmt.Sprintf("%dh%02dm", n/3600, n%3600/60)
	default:
		return fmt.Sprintf("%dd%02dh", n/86400, n%86400/3600)
	}
}

// size formats a byte count in binary units.
func size(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
}

// printable replaces control and other unprintable characters: error
// texts come from other servers and must not drive the operator's
// terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, s)
}

func runServerLog(c *cmd) error {
	dir := dirFlag(c.flags)
	if _, err := c.parse(0, 0); err != nil {
		return err
	}
	return withProvider(*dir, func(ctx context.Context, p *provider.Provider) error {
		vkey, err := p.LogVerifierKey()
		if err != nil {
			return err
		}
		cp, signed, err := p.Keylog().Checkpoint(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "verifier key  %s\nrecords       %d\n\n%s\n", vkey, cp.Size, signed)
		tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "INDEX\tADDRESS\tFINGERPRINT")
		for i := range cp.Size {
			rec, err := p.Keylog().Record(ctx, i)
			if err != nil {
				return err
			}
			addr := "(not a user signet)"
			if u, err := signet.ParseUser(rec); err == nil {
				addr = u.Address
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\n", i, addr, signet.FingerprintOf(rec))
		}
		return tw.Flush()
	})
}
