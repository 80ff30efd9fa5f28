package main

import (
	"context"
	"fmt"

	"umbra/bridge"
	"umbra/vault"
)

func init() {
	register(verb{
		words: "bridge password show",
		help: `Print the bridge password: what your mail client logs in with.

It is the bridge's own password, derived from your keys (never written
anywhere), not your vault password. Needs the vault password
(--password-file, $UMBRA_PASSWORD or a prompt). Works while the bridge
runs.`,
		run: runBridgePasswordShow,
	})
	register(verb{
		words: "bridge password rotate",
		help: `Replace the bridge password with a new one and print it.

Use it when the password may have been seen by someone else (a mail
client's settings file, a screen share). The old password stops working at
once: a running bridge takes the new one within a second and closes the
IMAP sessions logged in with the old one; your mail clients then ask for
the new password. The change is this device's alone: another device's
bridge keeps its own password. Needs the vault password.`,
		run: runBridgePasswordRotate,
	})
}

func runBridgePasswordShow(c *cmd) error {
	return bridgePasswordVerb(c, bridge.CurrentPassword, "")
}

func runBridgePasswordRotate(c *cmd) error {
	return bridgePasswordVerb(c, bridge.RotatePassword, "new bridge password (a running bridge takes it within seconds):\n")
}

// bridgePasswordVerb unlocks the account and prints what fn returns,
// after intro.
func bridgePasswordVerb(c *cmd, fn func(context.Context, string, *vault.Keys) (string, error), intro string) error {
	return accountVerb(c, 0, 0, nil, func(ctx context.Context, dir string, keys *vault.Keys, _ []string) error {
		pw, err := fn(ctx, dir, keys)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s%s\n", intro, pw)
		return nil
	})
}
