package vault

import "fmt"

// Params are the Argon2id cost parameters of one vault, stored in its header
// (spec §3) so that a vault written with today's defaults still opens after
// the defaults change.
type Params struct {
	Time      uint32 // passes over memory (Argon2 t)
	MemoryKiB uint32 // memory in KiB (Argon2 m)
	Threads   uint8  // lanes (Argon2 p); the result depends on it
}

// DefaultParams returns the parameters for new vaults: t=3, m=64 MiB, p=4.
//
// This is RFC 9106 §4's second recommended option, meant for settings where
// the first (2 GiB) is too much memory, as it is on phones. It is 3.4 times
// the memory of OWASP's minimum (m=19 MiB, t=2, p=1, Password Storage Cheat
// Sheet) and costs each password guess 64 MiB and three passes. Measured with
// BenchmarkUnlockDefault at 70 to 160 ms (median about 90 ms) on two shared
// cores of an AMD EPYC; a phone takes a few times longer, acceptable for an
// unlock that happens once per bridge start. Four lanes help on devices with
// four or more cores and cost nothing in strength on fewer (spec §7).
func DefaultParams() Params {
	return Params{Time: 3, MemoryKiB: 64 << 10, Threads: 4}
}

// MinimalParams returns the weakest parameters any vault may have: t=1,
// m=8 MiB, p=1 (spec §3). They exist for other packages' tests and for
// benchmarks; never use them for a real vault.
func MinimalParams() Params {
	return Params{Time: 1, MemoryKiB: productionBounds.minMemoryKiB, Threads: 1}
}

// bounds are the limits parameters must meet before Argon2id runs, whether
// read from a header or asked for by a writer (spec §3).
type bounds struct {
	minMemoryKiB, maxMemoryKiB uint32
	maxTime                    uint32
	maxThreads                 uint8
}

// productionBounds: at most 1 GiB, ten passes and 16 lanes, so a hostile
// vault cannot make a client allocate without limit; at least 8 MiB, so no
// vault is written too weak to matter.
var productionBounds = bounds{
	minMemoryKiB: 8 << 10,
	maxMemoryKiB: 1 << 20,
	maxTime:      10,
	maxThreads:   16,
}

// Validate reports whether p is within the bounds of spec §3.
func (p Params) Validate() error {
	if err := p.check(productionBounds); err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	return nil
}

func (p Params) check(b bounds) error {
	switch {
	case p.Time < 1 || p.Time > b.maxTime:
		return formatErr("params.time", "%d passes, want 1 to %d", p.Time, b.maxTime)
	case p.Threads < 1 || p.Threads > b.maxThreads:
		return formatErr("params.threads", "%d lanes, want 1 to %d", p.Threads, b.maxThreads)
	case p.MemoryKiB < b.minMemoryKiB || p.MemoryKiB > b.maxMemoryKiB:
		return formatErr("params.memory", "%d KiB, want %d to %d KiB", p.MemoryKiB, b.minMemoryKiB, b.maxMemoryKiB)
	case uint64(p.MemoryKiB) < 8*uint64(p.Threads):
		// Argon2 needs 8 KiB per lane (RFC 9106 §3.1); x/crypto would
		// silently raise m, so two headers would mean one key.
		return formatErr("params.memory", "%d KiB is below 8 KiB for each of %d lanes", p.MemoryKiB, p.Threads)
	}
	return nil
}
