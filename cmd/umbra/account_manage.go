package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"text/tabwriter"

	"umbra/atomicfile"
	"umbra/dmap"
	"umbra/vault"
)

// accountFlags are the flags of the verbs that use an existing account
// directory.
type accountFlags struct {
	dir      *string
	password *secretSource
}

func declareAccountFlags(fs *flag.FlagSet) accountFlags {
	return accountFlags{
		dir:      fs.String("dir", "", "the account `DIR`ectory (default: the only account under $HOME/.umbra)"),
		password: passwordFlag(fs, "password-file", "UMBRA_PASSWORD", "Vault password", "the vault password"),
	}
}

// session is an account directory opened on this device: its file, its
// keys and a client logged in with the device key.
type session struct {
	dir  string
	info *accountInfo
	keys *vault.Keys
	ep   *providerEndpoint
	cl   *dmap.Client
}

func (s *session) close() {
	s.keys.Zero()
	s.cl.Close()
}

// openAccount reads the account file of dir and opens its vault.
func openAccount(dir string, password []byte) (*accountInfo, *vault.Keys, error) {
	info, err := readAccountInfo(dir)
	if err != nil {
		return nil, nil, err
	}
	keys, err := vault.Open(filepath.Join(dir, vaultFile), password)
	if err != nil {
		return nil, nil, err
	}
	return info, keys, nil
}

// login opens the account of f's directory and logs in with its device key.
func (f accountFlags) login(ctx context.Context, c *cmd) (*session, error) {
	dir, err := findAccountDir(*f.dir)
	if err != nil {
		return nil, err
	}
	password, err := f.password.get(newPrompter(c), false)
	if err != nil {
		return nil, err
	}
	info, keys, err := openAccount(dir, password)
	if err != nil {
		return nil, err
	}
	s := &session{dir: dir, info: info, keys: keys}
	if err := s.connect(ctx); err != nil {
		keys.Zero()
		return nil, err
	}
	return s, nil
}

// connect logs in to the provider the account file names.
func (s *session) connect(ctx context.Context) error {
	var err error
	if s.ep, err = endpointOf(s.info); err != nil {
		return err
	}
	if s.cl, err = s.ep.client(); err != nil {
		return err
	}
	if err := s.cl.Login(ctx, s.info.Address, s.keys.Device); err != nil {
		s.cl.Close()
		return fmt.Errorf("log in as %s: %w", s.info.Address, explain(err, s.ep.server))
	}
	return nil
}

func runAccountDevices(c *cmd) error {
	f := declareAccountFlags(c.flags)
	if _, err := c.parse(0, 0); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	s, err := f.login(ctx, c)
	if err != nil {
		return err
	}
	defer s.close()
	ds, err := s.cl.Devices(ctx)
	if err != nil {
		return fmt.Errorf("list devices: %w", explain(err, s.ep.server))
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tADDED\tLAST SEEN\t")
	for _, d := range ds {
		seen, mark := "never", ""
		if !d.LastSeen.IsZero() {
			seen = stamp(d.LastSeen)
		}
		if d.Current {
			mark = "(this device)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.ID, printable(d.Name), stamp(d.Created), seen, mark)
	}
	return tw.Flush()
}

func runAccountRevoke(c *cmd) error {
	f := declareAccountFlags(c.flags)
	args, err := c.parse(1, 1)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	s, err := f.login(ctx, c)
	if err != nil {
		return err
	}
	defer s.close()
	id := args[0]
	err = s.cl.RevokeDevice(ctx, id)
	if errors.Is(err, dmap.ErrNotFound) {
		return fmt.Errorf("%s has no device %q (see umbra account devices): %w", s.info.Address, id, err)
	}
	if err != nil {
		return fmt.Errorf("revoke %s: %w", id, explain(err, s.ep.server))
	}
	if id == s.info.DeviceID {
		fmt.Fprintf(c.stdout, "revoked %s, this device: it can no longer log in\n", id)
		return nil
	}
	fmt.Fprintf(c.stdout, "revoked %s\n", id)
	return nil
}

// runAccountPasswd re-seals the vault under a new password. For a cautious
// account the provider's backup is replaced first (spec §6.5), so a
// failure there changes nothing.
func runAccountPasswd(c *cmd) error {
	f := declareAccountFlags(c.flags)
	newPassword := passwordFlag(c.flags, "new-password-file", "UMBRA_NEW_PASSWORD", "New vault password", "the new password")
	if _, err := c.parse(0, 0); err != nil {
		return err
	}
	dir, err := findAccountDir(*f.dir)
	if err != nil {
		return err
	}
	p := newPrompter(c)
	oldPW, err := f.password.get(p, false)
	if err != nil {
		return err
	}
	info, keys, err := openAccount(dir, oldPW)
	if err != nil {
		return err
	}
	s := &session{dir: dir, info: info, keys: keys}
	defer keys.Zero()
	newPW, err := newPassword.get(p, true)
	if err != nil {
		return err
	}
	sealed, err := vault.Seal(newPW, keys, vault.DefaultParams())
	if err != nil {
		return err
	}
	if info.Mode == dmap.ModeCautious {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if err := s.connect(ctx); err != nil {
			return fmt.Errorf("%w; nothing was changed", err)
		}
		defer s.cl.Close()
		if err := replaceBackup(ctx, s.cl, info.Address, newPW, sealed); err != nil {
			return fmt.Errorf("replace the key backup: %w; nothing was changed", explain(err, s.ep.server))
		}
	}
	if err := atomicfile.Replace(filepath.Join(dir, vaultFile), sealed); err != nil {
		if info.Mode == dmap.ModeCautious {
			return fmt.Errorf("the provider's key backup now opens with the new password, but this device's vault could not be replaced and still opens with the old one: %w", err)
		}
		return err
	}
	fmt.Fprintf(c.stdout, "password of %s changed\n", filepath.Join(dir, vaultFile))
	return nil
}
