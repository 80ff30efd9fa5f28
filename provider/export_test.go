package provider

import (
	"context"
	"time"
)

// SetSealHook makes the sealing of legacy mail call f first, and fail
// with its error (tests inject sealing failures with it).
func SetSealHook(p *Provider, f func(rcpt string) error) { p.sealHook = f }

// Sweep runs the janitor's work once, with a checkpoint (tests move the
// clock past a horizon and then sweep).
func Sweep(ctx context.Context, p *Provider) { p.sweep(ctx, time.Time{}) }
