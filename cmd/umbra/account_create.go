package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
	"unicode"
	"unicode/utf8"

	"umbra/atomicfile"
	"umbra/bridge"
	"umbra/dmap"
	"umbra/keyfile"
	"umbra/signet"
	"umbra/vault"
)

// signetLifetime is the validity of the signets this device asks for. The
// encryption key inside is rotated more often (DESIGN §4), each time with
// a new signet of the chain.
const signetLifetime = 365 * 24 * time.Hour

// newDeviceFlags are the flags of the verbs that set up an account
// directory on this device: create, recover and login.
type newDeviceFlags struct {
	dir, name *string
	server    serverFlags
	password  *secretSource
}

func declareNewDeviceFlags(fs *flag.FlagSet) *newDeviceFlags {
	return &newDeviceFlags{
		dir: fs.String("dir", "", "the account `DIR`ectory to create (default $HOME/.umbra/ADDRESS)"),
		// The provider stores device names in the clear: the default says
		// nothing of the machine (never its host name), only tells the
		// account's devices apart.
		name:     fs.String("name", "", "this device's `NAME`, as the device list shows it; the provider stores it in the clear (default: device-XXXX, four random hex digits)"),
		server:   declareServerFlags(fs),
		password: passwordFlag(fs, "password-file", "UMBRA_PASSWORD", "Vault password", "the vault password"),
	}
}

// checkDeviceName applies DMAP's rule (spec §2.5): 1–64 bytes of UTF-8
// without control characters.
func checkDeviceName(n string) error {
	if n == "" || len(n) > 64 || !utf8.ValidString(n) {
		return fmt.Errorf("device name %q: want 1 to 64 bytes of UTF-8", n)
	}
	for _, r := range n {
		if unicode.IsControl(r) {
			return fmt.Errorf("device name %q: no control characters", n)
		}
	}
	return nil
}

// prepare checks the flags and the address, finds the provider and makes
// the new account directory. remove undoes the directory.
// newDevice is a device being set up: its provider, its new account
// directory and a DMAP client. Until keep is called, close removes the
// directory again, so a failure leaves nothing behind.
type newDevice struct {
	ep     *providerEndpoint
	dir    string
	cl     *dmap.Client
	remove func()
	kept   bool
}

// keep marks the setup as done: close no longer removes the directory.
func (d *newDevice) keep() { d.kept = true }

func (d *newDevice) close() {
	d.cl.Close()
	if !d.kept {
		d.remove()
	}
}

func (f *newDeviceFlags) prepare(ctx context.Context, address string) (*newDevice, error) {
	if *f.name == "" {
		var r [2]byte
		rand.Read(r[:])
		*f.name = fmt.Sprintf("device-%x", r)
	}
	if err := checkDeviceName(*f.name); err != nil {
		return nil, usageErrorf("--name: %v", err)
	}
	ep, err := f.server.discover(ctx, signet.DomainOf(address))
	if err != nil {
		return nil, err
	}
	if err := ep.probe(ctx); err != nil {
		return nil, err
	}
	dir := *f.dir
	if dir == "" {
		if dir, err = defaultAccountDir(address); err != nil {
			return nil, err
		}
	}
	cl, err := ep.client()
	if err != nil {
		return nil, err
	}
	remove, err := newAccountDir(dir)
	if err != nil {
		cl.Close()
		return nil, err
	}
	return &newDevice{ep: ep, dir: dir, cl: cl, remove: remove}, nil
}

// parseMode checks a --mode value.
func parseMode(s string) (dmap.Mode, error) {
	m := dmap.Mode(s)
	if m != dmap.ModeParanoid && m != dmap.ModeCautious {
		return "", usageErrorf("--mode %q: want paranoid or cautious", s)
	}
	return m, nil
}

// sealVault seals keys under password with today's parameters and writes
// the new vault of dir (mode 0600). The sealed bytes are also what a
// cautious account's backup holds.
func sealVault(dir string, password []byte, keys *vault.Keys) ([]byte, error) {
	sealed, err := vault.Seal(password, keys, vault.DefaultParams())
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Create(filepath.Join(dir, vaultFile), sealed); err != nil {
		return nil, err
	}
	return sealed, nil
}

// request builds the signing request for keys' signing and encryption
// keys and the account's recovery key, valid from notBefore.
func request(keys *vault.Keys, recovery ed25519.PublicKey, notBefore time.Time, succ *signet.Successor) (*signet.User, error) {
	enc, err := keys.EncryptionKey()
	if err != nil {
		return nil, err
	}
	return signet.NewRequest(signet.UserFields{
		SigningKey:  keys.Signing.Public().(ed25519.PublicKey),
		Enc:         enc.PublicKey(),
		RecoveryKey: recovery,
		Address:     keys.Address,
		NotBefore:   notBefore,
		NotAfter:    notBefore.Add(signetLifetime),
	}, keys.Signing, succ)
}

// finish writes the signet and the account file: the account now exists
// on this device.
func finish(dir string, u *signet.User, info *accountInfo) error {
	if err := keyfile.WriteSignet(filepath.Join(dir, signetFile), u.Bytes(), map[string]string{"Address": u.Address}); err != nil {
		return err
	}
	return writeAccountInfo(dir, info)
}

func newInfo(address string, ep *providerEndpoint, mode dmap.Mode, deviceID string) *accountInfo {
	info := &accountInfo{Version: 1, Address: address, Server: ep.server, Mode: mode, DeviceID: deviceID}
	if ep.pin != nil {
		info.Pin = b64(ep.pin)
	}
	return info
}

func printAccount(w io.Writer, dir string, u *signet.User, info *accountInfo) {
	fp := u.Fingerprint()
	fmt.Fprintf(w, "account   %s (%s)\n", info.Address, info.Mode)
	fmt.Fprintf(w, "device    %s\n", info.DeviceID)
	fmt.Fprintf(w, "signet    %s\n", fp)
	fmt.Fprintf(w, "          read aloud: %s\n", fp.Human())
	fmt.Fprintf(w, "directory %s\n", dir)
}

func runAccountCreate(c *cmd) error {
	invite := c.flags.String("invite", "", "the invitation `CODE` your provider's operator gave you (required)")
	modeFlag := c.flags.String("mode", "paranoid", "paranoid: keys only on your devices; cautious: also a password-sealed key backup at the provider")
	phraseOut := c.flags.String("phrase-out", "", "write the recovery phrase to this new 0600 `FILE` instead of showing it (no quiz)")
	f := declareNewDeviceFlags(c.flags)
	args, err := c.parse(1, 1)
	if err != nil {
		return err
	}
	address, err := canonicalAddress(args[0])
	if err != nil {
		return err
	}
	if *invite == "" {
		return usageErrorf("--invite is required")
	}
	mode, err := parseMode(*modeFlag)
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
	// Until the provider has the account, a failure leaves nothing behind:
	// no directory, and no phrase file of an account that does not exist.
	wrotePhrase := false
	defer func() {
		if !nd.kept && wrotePhrase {
			os.Remove(*phraseOut)
		}
	}()

	p := newPrompter(c)
	password, err := f.password.get(p, true)
	if err != nil {
		return err
	}
	keys, err := vault.GenerateKeys(address)
	if err != nil {
		return err
	}
	defer keys.Zero()
	// The OpenPGP key for mail with the legacy world is in the vault (and
	// so in a cautious account's backup) from the start.
	if _, _, err := bridge.EnsureOpenPGPKey(keys, time.Now()); err != nil {
		return err
	}
	phrase, err := vault.NewPhrase()
	if err != nil {
		return err
	}
	if *phraseOut != "" {
		if err := writePhraseFile(*phraseOut, phrase); err != nil {
			return err
		}
		wrotePhrase = true
	} else {
		showPhrase(c.stdout, phrase)
		if err := quiz(p, phrase); err != nil {
			return err
		}
	}
	recovery, err := vault.RecoveryKey(phrase)
	if err != nil {
		return err
	}
	defer clear(recovery)
	req, err := request(keys, recovery.Public().(ed25519.PublicKey), time.Now(), nil)
	if err != nil {
		return err
	}
	sealed, err := sealVault(dir, password, keys)
	if err != nil {
		return err
	}
	var backup *dmap.KeyBackup
	if mode == dmap.ModeCautious {
		if backup, err = dmap.NewKeyBackup(address, password, sealed, dmap.MinBackupParams()); err != nil {
			return err
		}
	}
	u, id, err := cl.Register(ctx, dmap.RegisterParams{
		Address: address, Invite: *invite, Mode: mode, Request: req,
		DeviceKey: keys.Device.Public().(ed25519.PublicKey), DeviceName: *f.name, Backup: backup,
	})
	if err != nil {
		return fmt.Errorf("register %s: %w", address, explain(err, ep.server))
	}
	// The account exists at the provider now: keep the directory whatever
	// happens next, or the keys it certified would be lost.
	nd.keep()
	info := newInfo(address, ep, mode, id)
	if err := finish(dir, u, info); err != nil {
		return err
	}
	if err := cl.Login(ctx, address, keys.Device); err != nil {
		return fmt.Errorf("log in after registering: %w", explain(err, ep.server))
	}
	if err := verifyWithOrg(ctx, cl, ep, u); err != nil {
		return err
	}
	printAccount(c.stdout, dir, u, info)
	return nil
}
