package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"umbra/bridge"
	"umbra/dmap"
	"umbra/keyfile"
	"umbra/signet"
	"umbra/vault"
)

// Key rotation (DESIGN §4, docs/spec/signet.md §4.3, docs/spec/vault.md
// §5): the account's signing and encryption keys are replaced by new ones,
// certified by the provider as a signet that succeeds the current one with
// a custody signature of the old signing key, so correspondents follow the
// chain (HIST) without asking the user. The old encryption key is kept,
// retired, to open mail already sealed to it, and destroyed once that mail
// is held only in storage form under the storage key: forward secrecy by
// rotation.
const (
	// defaultRotateEvery is how old the account's signet gets before the
	// bridge rotates at its start (DESIGN §4: 30 days).
	defaultRotateEvery = 30 * 24 * time.Hour
	// defaultRetireAfter is how long a replaced encryption key is kept:
	// long enough for mail sealed to it just before the rotation to
	// arrive (a relay retries for 5 days, docs/spec/dmtp.md) and for every
	// device to convert it.
	defaultRetireAfter = 30 * 24 * time.Hour
	// vaultNextFile holds the keys of a rotation between the moment they
	// are made and the moment the vault takes them: the provider may have
	// certified them when the process dies, and mail sealed to a key that
	// exists nowhere would be lost.
	vaultNextFile = "vault.next"
)

func init() {
	register(verb{
		words:    "keys rotate",
		synopsis: "[--account ADDRESS | --dir DIR] [--retire-after DURATION]",
		help: `replace the account's keys with new ones, chained to the old

Makes a new signing key and a new encryption key, has the provider certify
them as the account's new signet (signed over by the old key, so your
correspondents' bridges accept it without asking you), and keeps the old
encryption key in the vault, retired, to open mail already sealed to it.
A retired key is destroyed once it has been retired for --retire-after and
no mail sealed to it waits at the provider: from then on, someone who
later gets hold of your vault and password cannot open mail they recorded
on its way to you (forward secrecy). Mail already received stays readable:
the bridge keeps it under the storage key.

The bridge does this by itself, at its start and hourly while it runs,
once the signet is older than its --rotate-every (30 days). Stop the
bridge before running this. The account's other devices get the new keys
through the provider, sealed under the account's storage key, which the
provider cannot open; each takes them at its next sync and keeps its own
old key retired.`,
		run: runKeysRotate,
	})
}

func runKeysRotate(c *cmd) error {
	retireAfter := c.flags.Duration("retire-after", defaultRetireAfter, "destroy a replaced encryption key once it has been retired this long and no mail sealed to it waits")
	dir, password, keys, _, err := unlockAccount(c, 0, 0, nil)
	if err != nil {
		return err
	}
	if *retireAfter < 0 {
		keys.Zero()
		return fmt.Errorf("--retire-after %s: want 0 or more", *retireAfter)
	}
	if _, err := bridge.ReadStatus(dir); err == nil {
		keys.Zero()
		return fmt.Errorf("the bridge of %s is running: stop it first (it rotates by itself, at its start and hourly, once the keys are older than its --rotate-every)", keys.Address)
	}
	info, err := readAccountInfo(dir)
	if err != nil {
		keys.Zero()
		return err
	}
	s := &session{dir: dir, info: info, keys: keys}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := s.connect(ctx); err != nil {
		keys.Zero()
		return err
	}
	defer s.close()
	if err := s.settleRotation(ctx, password); err != nil {
		return err
	}
	u, err := s.rotate(ctx, password, time.Now())
	if err != nil {
		return err
	}
	fp := u.Fingerprint()
	fmt.Fprintf(c.stdout, "signet    %s\n          read aloud: %s\n", fp, fp.Human())
	r, err := s.retire(ctx, password, time.Now(), *retireAfter)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "retired   %s\n", r)
	return nil
}

// maintainKeys is what the bridge does with the account's keys at its
// start: finish an interrupted rotation, rotate when the current signet
// started every or longer ago (0: never), and destroy the retired keys
// that are due.
func (s *session) maintainKeys(ctx context.Context, password []byte, now time.Time, every time.Duration, log *slog.Logger) error {
	if err := s.settleRotation(ctx, password); err != nil {
		return err
	}
	if every <= 0 {
		return nil
	}
	start, err := s.currentStart(ctx)
	if err != nil {
		return err
	}
	if now.Sub(start) >= every {
		u, err := s.rotate(ctx, password, now)
		if err != nil {
			return err
		}
		log.Info("rotated the account's keys", "signet", u.Fingerprint(), "previous_since", start.Format(time.DateOnly))
	}
	r, err := s.retire(ctx, password, now, defaultRetireAfter)
	if err == nil && r.destroyed > 0 {
		log.Info("destroyed retired encryption keys", "retired", r.String())
	}
	return err
}

// keepRotating rotates the keys of the account in dir once an hour if
// they are every old, beside its running bridge, until ctx ends. It works
// on a session of its own, with its own copy of the keys: the running
// bridge takes the new keys from the keyring document, as it would from
// another device (bridge/keyring.go).
func keepRotating(ctx context.Context, dir string, password []byte, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := rotateIfDue(ctx, dir, password, every, log); err != nil && ctx.Err() == nil {
			log.Warn("key rotation did not happen; trying again in an hour", "err", err)
		}
	}
}

// rotateIfDue is one round of keepRotating.
func rotateIfDue(ctx context.Context, dir string, password []byte, every time.Duration, log *slog.Logger) error {
	info, keys, err := openAccount(dir, password)
	if err != nil {
		return err
	}
	s := &session{dir: dir, info: info, keys: keys}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if err := s.connect(ctx); err != nil {
		keys.Zero()
		return err
	}
	defer s.close()
	return s.maintainKeys(ctx, password, time.Now(), every, log)
}

// rotate replaces the account's keys (s.keys, the vault, the signet file
// and, for a cautious account, the provider's key backup) and returns the
// new signet. The keys are first written to vaultNextFile, then certified,
// then moved into the vault: settleRotation finishes a rotation a crash
// interrupted.
func (s *session) rotate(ctx context.Context, password []byte, now time.Time) (*signet.User, error) {
	address := s.info.Address
	cur, err := currentSignet(ctx, s.cl, s.ep, address)
	if err != nil {
		return nil, err
	}
	if !cur.SigningKey.Equal(s.keys.Signing.Public()) {
		return nil, fmt.Errorf("the current signet of %s (%s) is not this device's key: another device rotated, or the chain was restarted; this device needs the account's newer keys (umbra account login)", address, cur.Fingerprint())
	}
	next, err := successorKeys(s.keys, cur.NotBefore)
	if err != nil {
		return nil, err
	}
	adopted := false // then s.keys holds next's secrets
	defer func() {
		if !adopted {
			next.Zero()
		}
	}()
	// The chain may not go back in time (VerifyChain): a clock behind the
	// current signet's start takes that start.
	notBefore := now
	if notBefore.Before(cur.NotBefore) {
		notBefore = cur.NotBefore
	}
	req, err := request(next, cur.RecoveryKey, notBefore, &signet.Successor{Prev: cur, Kind: signet.CustodyPrevious, Key: s.keys.Signing})
	if err != nil {
		return nil, err
	}
	vaultPath, nextPath := filepath.Join(s.dir, vaultFile), filepath.Join(s.dir, vaultNextFile)
	sealed, err := os.ReadFile(vaultPath)
	if err != nil {
		return nil, err
	}
	// A copy of the vault, then Save: the next keys under the same
	// password and parameters.
	if err := os.WriteFile(nextPath, sealed, 0o600); err != nil {
		return nil, fmt.Errorf("keep the new keys: %w", err)
	}
	if err := vault.Save(nextPath, password, next); err != nil {
		os.Remove(nextPath)
		return nil, err
	}
	// The account's other devices get the keys before the provider
	// certifies them: no mail sealed to them can come first (keyring.go).
	if err := bridge.PublishKeys(ctx, s.cl, next, nil); err != nil {
		os.Remove(nextPath)
		return nil, fmt.Errorf("give the new keys to the account's other devices: %w", explain(err, s.ep.server))
	}
	u, err := s.cl.Rotate(ctx, req)
	if err != nil {
		// Not certified, unless the answer was lost: settleRotation asks
		// the provider before it throws the next keys away.
		return nil, fmt.Errorf("have %s certify the new keys: %w", signet.DomainOf(address), explain(err, s.ep.server))
	}
	if err := verifyWithOrg(ctx, s.cl, s.ep, u); err != nil {
		return nil, err
	}
	adopted = true
	return u, s.adoptNext(ctx, password, u, next)
}

// settleRotation finishes a rotation that vaultNextFile says was under
// way: if the provider's current signet has the next keys' signing key,
// the provider certified them and the vault takes them; otherwise it did
// not, and they are thrown away.
func (s *session) settleRotation(ctx context.Context, password []byte) error {
	nextPath := filepath.Join(s.dir, vaultNextFile)
	next, err := vault.Open(nextPath, password)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("an interrupted key rotation left %s, which does not open: %w", nextPath, err)
	}
	cur, err := currentSignet(ctx, s.cl, s.ep, s.info.Address)
	if err != nil {
		next.Zero()
		return err
	}
	if !cur.SigningKey.Equal(next.Signing.Public()) {
		// Not certified: the keyring goes back to the keys in use, if
		// it still holds the ones thrown away.
		defer next.Zero()
		if err := bridge.PublishKeys(ctx, s.cl, s.keys, next); err != nil {
			return err
		}
		return os.Remove(nextPath)
	}
	return s.adoptNext(ctx, password, cur, next)
}

// adoptNext moves next, the keys sealed in vaultNextFile, into the vault,
// for u, their certified signet: the vault file is replaced atomically by
// the next one, s.keys takes next's secrets (the caller no longer zeroes
// next), the signet file is rewritten and a cautious account's key backup
// replaced.
func (s *session) adoptNext(ctx context.Context, password []byte, u *signet.User, next *vault.Keys) error {
	vaultPath, nextPath := filepath.Join(s.dir, vaultFile), filepath.Join(s.dir, vaultNextFile)
	if err := os.Rename(nextPath, vaultPath); err != nil {
		next.Zero()
		return fmt.Errorf("move the new keys into the vault: %w", err)
	}
	s.keys.Zero()
	*s.keys = *next
	if err := keyfile.ReplaceSignet(filepath.Join(s.dir, signetFile), u.Bytes(), map[string]string{"Address": u.Address}); err != nil {
		return err
	}
	return s.backUp(ctx, password)
}

// backUp replaces a cautious account's key backup with the vault as it is
// now, so a device that logs in later gets the current keys.
func (s *session) backUp(ctx context.Context, password []byte) error {
	if s.info.Mode != dmap.ModeCautious {
		return nil
	}
	sealed, err := os.ReadFile(filepath.Join(s.dir, vaultFile))
	if err != nil {
		return err
	}
	if err := replaceBackup(ctx, s.cl, s.info.Address, password, sealed); err != nil {
		return fmt.Errorf("the keys are rotated, but the provider's key backup still holds the old ones (umbra account passwd puts the new ones there): %w", explain(err, s.ep.server))
	}
	return nil
}

// successorKeys are keys with a new signing key and a new encryption
// key, the current encryption key retired with curStart, the start of the
// signet that carried it, as its time.
func successorKeys(keys *vault.Keys, curStart time.Time) (*vault.Keys, error) {
	_, signing, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	enc, err := hpke.MLKEM768X25519().GenerateKey()
	if err != nil {
		return nil, err
	}
	seed, err := enc.Bytes()
	if err != nil {
		return nil, err
	}
	defer clear(seed)
	defer clear(signing)
	return keys.Rotated(signing, seed, curStart), nil
}

// retired says what retire did.
type retired struct {
	destroyed, kept, pending int
	after                    time.Duration
}

func (r retired) String() string {
	switch {
	case r.destroyed > 0:
		return fmt.Sprintf("%d older encryption keys destroyed, %d kept", r.destroyed, r.kept)
	case r.pending > 0:
		return fmt.Sprintf("%d older encryption keys kept: %d messages wait at the provider to be opened (start the bridge; a later rotation destroys them)", r.kept, r.pending)
	default:
		return fmt.Sprintf("%d older encryption keys kept (none retired for %s yet)", r.kept, r.after)
	}
}

// retire destroys the retired encryption keys that have been retired for
// at least after (a key is retired when the next one is made: the next
// retired key's creation time, or for the newest the current signet's
// start) once no mail waits at the provider that only they could open.
func (s *session) retire(ctx context.Context, password []byte, now time.Time, after time.Duration) (retired, error) {
	r := s.keys.Retired
	res := retired{kept: len(r), after: after}
	if len(r) == 0 {
		return res, nil
	}
	curStart, err := s.currentStart(ctx)
	if err != nil {
		return res, err
	}
	n := 0 // the keys r[:n] are due
	for n < len(r) {
		retiredAt := curStart
		if n+1 < len(r) {
			retiredAt = r[n+1].Created
		}
		if now.Sub(retiredAt) < after {
			break
		}
		n++
	}
	if n == 0 {
		return res, nil
	}
	if res.pending, err = bridge.PendingMail(ctx, s.cl); err != nil || res.pending > 0 {
		return res, err
	}
	for _, k := range r[:n] {
		clear(k.Seed)
	}
	s.keys.Retired = slices.Delete(r, 0, n)
	if err := vault.Save(filepath.Join(s.dir, vaultFile), password, s.keys); err != nil {
		return res, fmt.Errorf("destroy the retired keys: %w", err)
	}
	res.destroyed, res.kept = n, len(s.keys.Retired)
	return res, s.backUp(ctx, password)
}

// currentStart is the start of the account's current signet, which
// carries its current encryption key.
func (s *session) currentStart(ctx context.Context) (time.Time, error) {
	cur, err := currentSignet(ctx, s.cl, s.ep, s.info.Address)
	if err != nil {
		return time.Time{}, err
	}
	enc, err := s.keys.EncryptionKey()
	if err != nil {
		return time.Time{}, err
	}
	if !bytes.Equal(cur.Enc.Bytes(), enc.PublicKey().Bytes()) {
		return time.Time{}, fmt.Errorf("the current signet of %s does not carry this device's encryption key", s.info.Address)
	}
	return cur.NotBefore, nil
}
