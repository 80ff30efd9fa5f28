package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"umbra/bridge"
	"umbra/pgp"
	"umbra/vault"
)

func init() {
	register(verb{
		words:    "keys import",
		synopsis: "FILE",
		help: `import a correspondent's OpenPGP public key for mail outside Umbra

FILE (or - for stdin) holds one OpenPGP public key, ASCII-armored or
binary, of at most 64 KiB. It must be valid now (not expired or revoked)
and able to encrypt. The bridge keeps it in the account's encrypted local
store for each e-mail address of its user IDs and, from then on, encrypts
and signs every message to those addresses with OpenPGP (PGP/MIME),
whatever their Autocrypt headers say. Works while the bridge runs. Compare
the fingerprint it prints with the owner's before you rely on it.`,
		run: runKeysImport,
	})
	register(verb{
		words:    "keys pgp-export",
		synopsis: "[FILE]",
		help: `write the account's OpenPGP public key (ASCII-armored) to FILE or stdout

This is the key that correspondents outside Umbra encrypt to, and that
signs what the bridge sends them with OpenPGP; the bridge also sends it in
the Autocrypt header of every such message. An account made before OpenPGP
gets its key now (saved in the vault) if the bridge has not made it yet.
The fingerprint goes to stderr.`,
		run: runKeysPGPExport,
	})
}

// openBridgeAccount opens the vault of the account chosen by --dir or
// --account, asking for its password as the bridge does.
func openBridgeAccount(c *cmd, dir, account *string, password *secretSource) (string, []byte, *vault.Keys, error) {
	d, err := resolveBridgeDir(*dir, *account)
	if err != nil {
		return "", nil, nil, err
	}
	pw, err := password.get(newPrompter(c), false)
	if err != nil {
		return "", nil, nil, err
	}
	_, keys, err := openAccount(d, pw)
	if err != nil {
		return "", nil, nil, err
	}
	return d, pw, keys, nil
}

func runKeysImport(c *cmd) error {
	var key *pgp.PublicKey
	pre := func(args []string) error {
		var data []byte
		var err error
		if args[0] == "-" {
			data, err = io.ReadAll(io.LimitReader(c.stdin, pgp.MaxKeySize+1))
		} else {
			data, err = os.ReadFile(args[0])
		}
		if err != nil {
			return fmt.Errorf("read the key: %w", err)
		}
		if key, err = pgp.ParsePublicKey(data, time.Now()); err != nil {
			return fmt.Errorf("%s: %w", args[0], err)
		}
		return nil
	}
	return accountVerb(c, 1, 1, pre, func(ctx context.Context, dir string, keys *vault.Keys, _ []string) error {
		addrs, err := bridge.ImportContactKey(ctx, dir, keys, key)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "imported OpenPGP key %s for %s\n", key.Fingerprint(), strings.Join(addrs, ", "))
		return nil
	})
}

// unlockAccount declares the flags of a verb that opens the account (its
// directory, the vault password), parses min to max arguments, lets pre
// (if not nil) check them, and unlocks the vault. The caller zeroes keys.
func unlockAccount(c *cmd, min, max int, pre func(args []string) error) (dir string, password []byte, keys *vault.Keys, args []string, err error) {
	d, account := bridgeDir(c)
	pw := passwordFlag(c.flags, "password-file", "UMBRA_PASSWORD", "Vault password", "the vault password")
	if args, err = c.parse(min, max); err != nil {
		return "", nil, nil, nil, err
	}
	if pre != nil {
		if err = pre(args); err != nil {
			return "", nil, nil, nil, err
		}
	}
	dir, password, keys, err = openBridgeAccount(c, d, account, pw)
	return dir, password, keys, args, err
}

func runKeysPGPExport(c *cmd) error {
	d, pw, keys, args, err := unlockAccount(c, 0, 1, nil)
	if err != nil {
		return err
	}
	defer keys.Zero()
	key, made, err := bridge.EnsureOpenPGPKey(keys, time.Now())
	if err != nil {
		return err
	}
	if made {
		if err := vault.Save(filepath.Join(d, vaultFile), pw, keys); err != nil {
			return fmt.Errorf("save the new OpenPGP key in the vault: %w", err)
		}
	}
	fmt.Fprintf(c.stderr, "OpenPGP key of %s, fingerprint %s\n", keys.Address, key.Fingerprint())
	if len(args) == 0 {
		_, err = c.stdout.Write(key.Public().Armored())
		return err
	}
	return os.WriteFile(args[0], key.Public().Armored(), 0o644)
}
