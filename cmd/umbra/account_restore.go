package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"time"

	"umbra/dmap"
	"umbra/signet"
	"umbra/vault"
)

// runAccountRecover restarts the chain: enroll with the recovery key
// (docs/spec/dmap.md §5.2), then rotate to a signet whose custody is
// signed by the recovery key (§5.7, docs/spec/signet.md §4.3).
func runAccountRecover(c *cmd) error {
	phraseFile := c.flags.String("phrase-file", "", "read the recovery phrase from the first line of `FILE` (else it is asked for)")
	modeFlag := c.flags.String("mode", "paranoid", "the account's mode; cautious replaces the provider's key backup with the new keys")
	f := declareNewDeviceFlags(c.flags)
	args, err := c.parse(1, 1)
	if err != nil {
		return err
	}
	address, err := canonicalAddress(args[0])
	if err != nil {
		return err
	}
	mode, err := parseMode(*modeFlag)
	if err != nil {
		return err
	}
	p := newPrompter(c)
	var phrase string
	if *phraseFile != "" {
		phrase, err = readSecretFile(*phraseFile)
	} else {
		phrase, err = p.ask("Recovery phrase (24 words): ")
	}
	if err != nil {
		return err
	}
	recovery, err := vault.RecoveryKey(phrase)
	if err != nil {
		return err
	}
	defer clear(recovery)

	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	nd, err := f.prepare(ctx, address)
	if err != nil {
		return err
	}
	defer nd.close()
	ep, dir, cl := nd.ep, nd.dir, nd.cl
	password, err := f.password.get(p, true)
	if err != nil {
		return err
	}
	keys, err := vault.GenerateKeys(address)
	if err != nil {
		return err
	}
	defer keys.Zero()
	sealed, err := sealVault(dir, password, keys)
	if err != nil {
		return err
	}
	devicePub := keys.Device.Public().(ed25519.PublicKey)
	id, err := cl.Enroll(ctx, address, devicePub, *f.name, recovery, true)
	if err != nil {
		return fmt.Errorf("join %s with the recovery key: %w", address, explain(err, ep.server))
	}
	if err := cl.Login(ctx, address, keys.Device); err != nil {
		return fmt.Errorf("log in: %w", explain(err, ep.server))
	}
	cur, err := currentSignet(ctx, cl, ep, address)
	if err != nil {
		return err
	}
	// The chain may not go back in time (VerifyChain): a clock behind the
	// current signet's start takes that start.
	notBefore := time.Now()
	if notBefore.Before(cur.NotBefore) {
		notBefore = cur.NotBefore
	}
	req, err := request(keys, cur.RecoveryKey, notBefore, &signet.Successor{Prev: cur, Kind: signet.CustodyRecovery, Key: recovery})
	if err != nil {
		return fmt.Errorf("this phrase does not sign for the current signet of %s: %w", address, err)
	}
	u, err := cl.Rotate(ctx, req)
	if err != nil {
		return fmt.Errorf("restart the chain of %s: %w", address, explain(err, ep.server))
	}
	if err := verifyWithOrg(ctx, cl, ep, u); err != nil {
		return err
	}
	nd.keep()
	info := newInfo(address, ep, mode, id)
	if err := finish(dir, u, info); err != nil {
		return err
	}
	printAccount(c.stdout, dir, u, info)
	if mode == dmap.ModeCautious {
		if err := replaceBackup(ctx, cl, address, password, sealed); err != nil {
			return fmt.Errorf("the chain is restarted, but the provider still holds the old key backup (run \"umbra account passwd\" to retry): %w", explain(err, ep.server))
		}
	}
	return listOthers(ctx, c, cl, id)
}

// replaceBackup derives a new backup access key with a fresh salt and
// stores sealed as the account's key backup (spec §6.5).
func replaceBackup(ctx context.Context, cl *dmap.Client, address string, password, sealed []byte) error {
	kb, err := dmap.NewKeyBackup(address, password, sealed, dmap.MinBackupParams())
	if err != nil {
		return err
	}
	return cl.SetKeyBackup(ctx, kb)
}

// listOthers names the account's other devices after a recovery: a lost
// device that is still listed can still log in until it is revoked.
func listOthers(ctx context.Context, c *cmd, cl *dmap.Client, self string) error {
	ds, err := cl.Devices(ctx)
	if err != nil {
		return fmt.Errorf("list the other devices: %w", err)
	}
	for _, d := range ds {
		if d.ID != self {
			fmt.Fprintf(c.stdout, "still on the account: device %s %q; if it is lost, run: umbra account revoke %s\n", d.ID, d.Name, revokeArg(d.ID))
		}
	}
	return nil
}

// revokeArg is a device id as the revoke verb takes it: a base64url id
// may start with "-", which would read as a flag without "--" before it.
func revokeArg(id string) string {
	if strings.HasPrefix(id, "-") {
		return "-- " + id
	}
	return id
}

// runAccountLogin sets up this device from a cautious account's key
// backup (docs/spec/dmap.md §6.3), then enrolls a new device key with the
// signing key inside it (§5.2).
func runAccountLogin(c *cmd) error {
	f := declareNewDeviceFlags(c.flags)
	args, err := c.parse(1, 1)
	if err != nil {
		return err
	}
	address, err := canonicalAddress(args[0])
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	nd, err := f.prepare(ctx, address)
	if err != nil {
		return err
	}
	defer nd.close()
	ep, dir, cl := nd.ep, nd.dir, nd.cl
	password, err := f.password.get(newPrompter(c), false)
	if err != nil {
		return err
	}
	backup, err := cl.FetchKeyBackup(ctx, address, password)
	if errors.Is(err, dmap.ErrLoginFailed) {
		return fmt.Errorf("no key backup of %s opens with this password (a wrong password, or not a cautious account): %w", address, err)
	}
	if err != nil {
		return fmt.Errorf("fetch the key backup: %w", explain(err, ep.server))
	}
	keys, err := vault.Unseal(backup, password)
	if err != nil {
		return fmt.Errorf("open the key backup of %s: %w", address, err)
	}
	defer keys.Zero()
	if keys.Address != address {
		return fmt.Errorf("the key backup is for %q, not %q", keys.Address, address)
	}
	// This device gets its own key: device keys are never shared, so each
	// can be revoked alone.
	clear(keys.Device)
	if _, keys.Device, err = ed25519.GenerateKey(nil); err != nil {
		return err
	}
	if _, err := sealVault(dir, password, keys); err != nil {
		return err
	}
	id, err := cl.Enroll(ctx, address, keys.Device.Public().(ed25519.PublicKey), *f.name, keys.Signing, false)
	if err != nil {
		return fmt.Errorf("add this device to %s: %w", address, explain(err, ep.server))
	}
	if err := cl.Login(ctx, address, keys.Device); err != nil {
		return fmt.Errorf("log in: %w", explain(err, ep.server))
	}
	cur, err := currentSignet(ctx, cl, ep, address)
	if err != nil {
		return err
	}
	nd.keep()
	info := newInfo(address, ep, dmap.ModeCautious, id)
	if err := finish(dir, cur, info); err != nil {
		return err
	}
	printAccount(c.stdout, dir, cur, info)
	return nil
}
