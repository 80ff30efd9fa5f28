package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"umbra/bridge"
	"umbra/bridge/mailstore"
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
fingerprint. For an address outside Umbra it prints the OpenPGP keys your
devices know, and where each came from: imported (umbra keys import),
autocrypt (a header of their mail) or wkd (their domain's Web Key
Directory). Exit status 1 if the bridge knows no key for ADDRESS.`,
		run: runKeysShow,
	})
	register(verb{
		words: "keys list",
		help: `list the keys this device knows for your correspondents

One line per key: for someone on Umbra, the fingerprint of the key the
bridge pinned, marked "verified by you" once you checked it with them
(umbra keys verify); for someone outside Umbra, each OpenPGP key your
devices know and where it came from. Works while the bridge runs.`,
		run: runKeysList,
	})
	register(verb{
		words:    "keys verify",
		synopsis: "ADDRESS FINGERPRINT",
		help: `record that you checked a correspondent's key with them

Ask your correspondent for the fingerprint umbra keys fingerprint prints
for them, by phone or in person, not by mail, and give it here. If it is
the key this device uses for them, umbra keys show and list mark it
"verified by you"; if not, nothing is recorded and the exit status is 1:
talk to them before you trust mail from that key. Works while the bridge
runs.`,
		run: runKeysVerify,
	})
	register(verb{
		words:    "keys refresh",
		synopsis: "ADDRESS",
		help: `look a correspondent's key up again before the next mail to them

The bridge seals mail to the key it pinned for a correspondent without
asking anyone while the pin is less than a day old (each look-up tells
their provider that someone writes to them, and their own mail brings
their newest key anyway). This makes the pin stale: the next mail to
ADDRESS asks for their current key, which is accepted only if it descends
from the pinned one (else the mail waits and you are told). Works while
the bridge runs.`,
		run: runKeysRefresh,
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
	var address string
	pre := func(args []string) (err error) {
		if address, err = canonicalAddress(args[0]); err != nil {
			return usageErrorf("%v", err)
		}
		return nil
	}
	return accountVerb(c, nargs, nargs, pre, func(ctx context.Context, dir string, keys *vault.Keys, args []string) error {
		return fn(ctx, dir, keys, address, args[1:])
	})
}

// accountVerb runs a verb on the account's unlocked keys: --dir or
// --account choose the account, --password-file (or $UMBRA_PASSWORD, or a
// prompt) unlocks it; the verb takes min to max arguments (max -1: no
// limit), which pre (if not nil) checks before the vault is unlocked.
func accountVerb(c *cmd, min, max int, pre func(args []string) error, fn func(ctx context.Context, dir string, keys *vault.Keys, args []string) error) error {
	d, _, keys, args, err := unlockAccount(c, min, max, pre)
	if err != nil {
		return err
	}
	defer keys.Zero()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	return fn(ctx, d, keys, args)
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

func runKeysRefresh(c *cmd) error {
	return contactVerb(c, 1, func(ctx context.Context, dir string, keys *vault.Keys, address string, _ []string) error {
		err := bridge.RefreshKey(ctx, dir, keys, address)
		if errors.Is(err, mailstore.ErrNotFound) {
			return fmt.Errorf("this device knows no key for %s yet (it looks one up with the first mail to them)", address)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s: the key is looked up again with the next mail\n", address)
		return nil
	})
}

func runKeysShow(c *cmd) error {
	return contactVerb(c, 1, func(ctx context.Context, dir string, keys *vault.Keys, address string, _ []string) error {
		list, err := bridge.Contacts(ctx, dir, keys, address)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			return fmt.Errorf("this device knows no key for %s yet (it learns one with the first message either way)", address)
		}
		printContacts(c.stdout, list)
		return nil
	})
}

func runKeysList(c *cmd) error {
	return accountVerb(c, 0, 0, nil, func(ctx context.Context, dir string, keys *vault.Keys, _ []string) error {
		list, err := bridge.Contacts(ctx, dir, keys, "")
		if err != nil {
			return err
		}
		if len(list) == 0 {
			fmt.Fprintln(c.stdout, "this device knows no correspondent's key yet")
		}
		printContacts(c.stdout, list)
		return nil
	})
}

func runKeysVerify(c *cmd) error {
	return contactVerb(c, 2, func(ctx context.Context, dir string, keys *vault.Keys, address string, args []string) error {
		fp, err := signet.ParseFingerprint(args[0])
		if err != nil {
			return usageErrorf("FINGERPRINT: %v", err)
		}
		if err := bridge.VerifyKey(ctx, dir, keys, address, fp); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s: key %s verified\n", address, fp)
		return nil
	})
}

// printContacts writes one line per key: an Umbra correspondent's signet
// fingerprint, and the OpenPGP keys of one outside Umbra with their
// source.
func printContacts(w io.Writer, list []bridge.ContactKeys) {
	for _, ck := range list {
		if !ck.Pinned.IsZero() {
			v := ""
			if ck.Verified {
				v = "  (verified by you)"
			}
			fmt.Fprintf(w, "%s  %s%s\n", ck.Address, ck.Pinned, v)
		}
		for _, k := range ck.OpenPGP {
			if !k.Usable {
				fmt.Fprintf(w, "%s  openpgp key from %s, no longer usable (expired or revoked)\n", ck.Address, k.Source)
				continue
			}
			fmt.Fprintf(w, "%s  openpgp %s from %s\n", ck.Address, k.Fingerprint, k.Source)
		}
	}
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
