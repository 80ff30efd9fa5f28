package main

import (
	"context"
	"fmt"

	"umbra/bridge"
	"umbra/signet"
	"umbra/vault"
)

func init() {
	register(verb{
		words:    "keys trust",
		synopsis: "ADDRESS FINGERPRINT",
		help: `trust a correspondent's new key after checking it with them

When a contact's key changes and the new key does not descend from the one
your bridge knew (they started over from their recovery phrase, or someone
made a key in their name), mail to them waits in the outbox and the bridge
tells you in your inbox, with the new fingerprint. Check that fingerprint
with them — by phone or in person, not by mail — and, if it is theirs, run
this: the bridge then knows that key as theirs, and the held mail goes at
the outbox's next try. Works while the bridge runs.`,
		run: runKeysTrust,
	})
	register(verb{
		words:    "keys show",
		synopsis: "ADDRESS",
		help: `show the key this device knows for a correspondent

Prints the fingerprint the bridge pinned for ADDRESS (the first key it saw,
or the newest that descends from it, or one you trusted with umbra keys
trust). Compare it with the one your correspondent sees with umbra keys
fingerprint. Exit status 1 if the bridge knows no key for ADDRESS.`,
		run: runKeysShow,
	})
	register(verb{
		words: "keys fingerprint",
		help: `print the fingerprint of this account's own key

Reads the running bridge's status (the key as its last audit found it in
the provider's log and your chain). Give it to your correspondents (by phone, in person) so that they can check
it against what their bridge shows (umbra keys show).`,
		run: runKeysFingerprint,
	})
}

// contactVerb runs fn for a verb of the form "keys X ADDRESS [ARG]" on the
// account's store, with the vault opened as the bridge does.
func contactVerb(c *cmd, nargs int, fn func(ctx context.Context, dir string, keys *vault.Keys, address string, args []string) error) error {
	return storeVerb(c, nargs, nargs, func(ctx context.Context, dir string, keys *vault.Keys, args []string) error {
		address, err := canonicalAddress(args[0])
		if err != nil {
			return usageErrorf("%v", err)
		}
		return fn(ctx, dir, keys, address, args[1:])
	})
}

func runKeysTrust(c *cmd) error {
	return contactVerb(c, 2, func(ctx context.Context, dir string, keys *vault.Keys, address string, args []string) error {
		fp, err := signet.ParseFingerprint(args[0])
		if err != nil {
			return usageErrorf("FINGERPRINT: %v", err)
		}
		if err := bridge.TrustKey(ctx, dir, keys, address, fp); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s: key %s trusted; held mail goes at the outbox's next try\n", address, fp)
		return nil
	})
}

func runKeysShow(c *cmd) error {
	return contactVerb(c, 1, func(ctx context.Context, dir string, keys *vault.Keys, address string, _ []string) error {
		fp, ok, err := bridge.PinnedKey(ctx, dir, keys, address)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("this device knows no key for %s yet (it learns one with the first message either way)", address)
		}
		fmt.Fprintf(c.stdout, "%s  %s\n", address, fp)
		return nil
	})
}

func runKeysFingerprint(c *cmd) error {
	st, err := runningStatus(c)
	if err != nil {
		return err
	}
	if st.Fingerprint == "" {
		return fmt.Errorf("the bridge of %s has not checked its own key yet (it does after its first sync)", st.Address)
	}
	fmt.Fprintf(c.stdout, "%s  %s\n", st.Address, st.Fingerprint)
	return nil
}
