package signet

import (
	"crypto/ed25519"
	"fmt"
)

// VerifyChain checks that next succeeds prev in one address's chain of
// custody (spec §6): same address, next names prev's fingerprint, next's
// custody signature verifies with prev's signing key (a rotation) or prev's
// recovery key (a restart), next's self-signature verifies, and next does
// not start before prev. Organisation signatures and validity against the
// clock are Verify's job.
func VerifyChain(prev, next *User) error {
	if prev.Address != next.Address {
		return errorf("chain", "address changes from %q to %q", prev.Address, next.Address)
	}
	if next.Prev.IsZero() {
		return errorf("chain", "the newer signet starts a new chain (no previous fingerprint, no custody signature)")
	}
	if !next.Prev.Equal(prev.Fingerprint()) {
		return errorf("chain", "gap: the newer signet succeeds %s, not %s", next.Prev, prev.Fingerprint())
	}
	var key ed25519.PublicKey
	switch next.Custody {
	case CustodyPrevious:
		key = prev.SigningKey
	case CustodyRecovery:
		key = prev.RecoveryKey
	}
	if !ed25519.Verify(key, signedMessage("custody", next.raw, next.custodyOff), next.custodySig) {
		return errorf("custody-signature", "does not verify with the previous signet's %s", next.Custody)
	}
	if err := next.VerifySelf(); err != nil {
		return err
	}
	if next.NotBefore.Before(prev.NotBefore) {
		return errorf("chain", "the newer signet's not-before %s precedes the previous one's", next.NotBefore)
	}
	return nil
}

// VerifyHistory checks a run of signets of one address, oldest first, as
// returned by DMTP HIST: every adjacent pair must pass VerifyChain, so a
// missing signet anywhere breaks the run.
func VerifyHistory(chain []*User) error {
	if len(chain) == 0 {
		return errorf("chain", "empty history")
	}
	for i := 1; i < len(chain); i++ {
		if err := VerifyChain(chain[i-1], chain[i]); err != nil {
			return fmt.Errorf("signet: history link %d→%d: %w", i-1, i, err)
		}
	}
	return nil
}
