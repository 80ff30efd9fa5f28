package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"umbra/bridge"
	"umbra/dmap"
	"umbra/dnsrec"
	"umbra/vault"
)

func init() {
	register(verb{
		words: "bridge",
		help: `Run the bridge: IMAP and SMTP for your mail client on 127.0.0.1 and ::1.

Unlocks the account's vault (--password-file, $UMBRA_PASSWORD or a prompt),
logs in to the provider, and serves IMAP and SMTP on loopback while it keeps
an encrypted copy of all your mail on this device: new mail is pulled,
opened and verified; what you send is sealed for each recipient; flags,
folders and deletions travel, encrypted, to your other devices. Without the
provider the bridge keeps serving the local copy and holds outgoing mail
in its outbox until the provider is back.

Mail to addresses outside Umbra goes through your provider, which relays
it over SMTP: OpenPGP-encrypted (PGP/MIME) when the bridge has the
recipient's key from an Autocrypt header of their mail or from
'umbra keys import', plain otherwise, and always with your OpenPGP key in
an Autocrypt header. --dark-only=true refuses plain mail to them: such a
recipient is then accepted only when the bridge can encrypt to them. The
setting is kept in the account's local store until changed.

A loopback address given to --imap, --smtp or --imaps is served on both
127.0.0.1 and ::1, on the same port (on 127.0.0.1 alone when the machine
has no ::1).

It prints the settings a mail client needs. The password it prints is the
bridge's own (derived from your keys; the same on every start until you
replace it with 'umbra bridge password rotate'), not your vault password. STARTTLS is offered, and with --imaps IMAP over TLS from
the first byte (RFC 8314), with a certificate for 127.0.0.1, ::1 and
localhost issued by the account's own certificate authority: import that
into your mail client once (see 'umbra bridge cert export'). Stop it with
Ctrl-C.`,
		run: runBridge,
	})
	register(verb{
		words: "bridge status",
		help: `Show what the running bridge is doing.

Sync position, messages received, local changes not yet pushed, the
outbox, and the last error. Asks the bridge through the socket in the
account directory; needs no password.`,
		run: runBridgeStatus,
	})
	register(verb{
		words:    "bridge cert export",
		synopsis: "[FILE]",
		help: `Write the bridge's CA certificate (PEM) to FILE or stdout.

The bridge of each account has its own certificate authority, which
issues the certificate the bridge serves (STARTTLS and --imaps) and can
certify nothing but 127.0.0.1, ::1 and localhost. Import the CA
certificate once into your mail client (Thunderbird: Settings, Privacy &
Security, Manage Certificates, Authorities, Import, "trust this CA to
identify websites") or the system's trust store. The bridge makes it on
its first start and keeps it: the served certificate is renewed from it
without a new import.`,
		run: runBridgeCertExport,
	})
}

// bridgeDir declares --dir and --account, which choose the account
// directory (resolveBridgeDir).
func bridgeDir(c *cmd) (dir *string, account *string) {
	return c.flags.String("dir", "", "the account `DIR`ectory (default: $HOME/.umbra/ADDRESS with --account, else the only account there)"),
		c.flags.String("account", "", "the account `ADDRESS` (its directory is $HOME/.umbra/ADDRESS)")
}

func resolveBridgeDir(dir, account string) (string, error) {
	if dir == "" && account != "" {
		a, err := canonicalAddress(account)
		if err != nil {
			return "", err
		}
		return defaultAccountDir(a)
	}
	return findAccountDir(dir)
}

func runBridge(c *cmd) error {
	dir, account := bridgeDir(c)
	password := passwordFlag(c.flags, "password-file", "UMBRA_PASSWORD", "Vault password", "the vault password")
	imapAddr := c.flags.String("imap", bridge.DefaultIMAP, "IMAP listen `ADDRESS` (the next free port is taken if it is in use)")
	smtpAddr := c.flags.String("smtp", bridge.DefaultSMTP, "SMTP submission listen `ADDRESS` (the next free port is taken if it is in use)")
	imapsAddr := c.flags.String("imaps", "", "also serve IMAP over implicit TLS (RFC 8314) at `ADDRESS`, e.g. 127.0.0.1:1993 (default: off)")
	dnsServer := dnsFlag(c.flags)
	level := logLevelFlag(c.flags)
	darkOnly := c.flags.Bool("dark-only", false, "send only end-to-end encrypted mail: refuse addresses outside Umbra unless the bridge has their OpenPGP key (kept until changed; without the flag the kept setting holds)")
	rotateEvery := c.flags.Duration("rotate-every", defaultRotateEvery, "rotate the account's keys once they are this old, at start and hourly while running (0: never; see umbra keys rotate -h)")
	safeHTML := c.flags.String("safe-html", bridge.SafeHTMLLegacy, "neutralise remote images, scripts and forms in HTML mail before a mail client sees it: `legacy` mail only, all mail (dark mail from validated senders too), or off (kept until changed, like --dark-only)")
	if _, err := c.parse(0, 0); err != nil {
		return err
	}
	var setDarkOnly *bool   // nil: keep the stored setting
	var setSafeHTML *string // likewise
	c.flags.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "dark-only":
			setDarkOnly = darkOnly
		case "safe-html":
			setSafeHTML = safeHTML
		}
	})
	lvl, err := logLevel(*level)
	if err != nil {
		return err
	}
	d, err := resolveBridgeDir(*dir, *account)
	if err != nil {
		return err
	}
	res, err := dnsResolver(*dnsServer)
	if err != nil {
		return err
	}
	pw, err := password.get(newPrompter(c), false)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log := newLogger(c.stderr, lvl)
	rb, err := startBridgeConfig(ctx, d, pw, res, *rotateEvery, bridge.Config{
		IMAP: *imapAddr, SMTP: *smtpAddr, IMAPS: *imapsAddr, DarkOnly: setDarkOnly, SafeHTML: setSafeHTML, Logger: log,
	})
	if err != nil {
		return err
	}
	printClientSettings(c.stdout, rb.b)
	if *rotateEvery > 0 {
		go keepRotating(ctx, d, pw, *rotateEvery, log)
	}
	<-ctx.Done()
	stop()
	log.Info("shutting down")
	return rb.close()
}

// runningBridge is a bridge with the session it runs on.
type runningBridge struct {
	b *bridge.Bridge
	s *session
}

func (r *runningBridge) close() error {
	err := r.b.Close()
	r.s.close()
	return err
}

// startBridge opens the account in dir, logs in and starts its bridge.
// Without the provider it still starts (offline), logging in later.
// darkOnly, when not nil, changes the account's dark-only setting.
func startBridge(ctx context.Context, dir string, password []byte, res *dnsrec.Resolver, imapAddr, smtpAddr string, darkOnly *bool, log *slog.Logger) (*runningBridge, error) {
	return startBridgeConfig(ctx, dir, password, res, 0, bridge.Config{IMAP: imapAddr, SMTP: smtpAddr, DarkOnly: darkOnly, Logger: log})
}

// startBridgeConfig is startBridge with the listen addresses, the
// dark-only setting and the logger (default: slog's) of cfg; it fills in
// the rest. Once logged in, it finishes a key rotation a crash
// interrupted and rotates the keys when they are rotateEvery old (0:
// never; maintainKeys).
func startBridgeConfig(ctx context.Context, dir string, password []byte, res *dnsrec.Resolver, rotateEvery time.Duration, cfg bridge.Config) (*runningBridge, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	log := cfg.Logger
	info, keys, err := openAccount(dir, password)
	if err != nil {
		return nil, err
	}
	s := &session{dir: dir, info: info, keys: keys}
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.connect(lctx); err != nil {
		if s.cl == nil {
			keys.Zero()
			return nil, err
		}
		log.Warn("provider not reachable now: serving the local copy, trying again in the background", "err", err)
	} else if err := s.maintainKeys(lctx, password, time.Now(), rotateEvery, log); err != nil {
		// The keys the vault holds still work; the next start tries again.
		log.Warn("key rotation did not happen", "err", err)
	}
	cfg.Dir, cfg.Keys, cfg.DeviceID, cfg.Client, cfg.Resolver = dir, keys, info.DeviceID, s.cl, res
	// Keys another device rotated to (bridge/keyring.go), or this one's
	// keepRotating, which saved them itself, having destroyed the retired
	// keys that were due: those must not come back from the bridge's
	// memory.
	cfg.SaveKeys = func(k *vault.Keys) error {
		path := filepath.Join(dir, vaultFile)
		if cur, err := vault.Open(path, password); err == nil {
			same := cur.Signing.Equal(k.Signing) && bytes.Equal(cur.Encryption, k.Encryption)
			cur.Zero()
			if same {
				return nil
			}
		}
		return vault.Save(path, password, k)
	}
	b, err := bridge.Open(cfg)
	if err != nil {
		s.close()
		return nil, err
	}
	if b.MadeOpenPGPKey() {
		if err := saveOpenPGPKey(lctx, s, password, log); err != nil {
			b.Close()
			s.close()
			return nil, err
		}
		log.Info("made the account's OpenPGP key", "fingerprint", b.OpenPGPKey().Fingerprint())
	}
	if err := b.Start(); err != nil {
		b.Close()
		s.close()
		return nil, err
	}
	return &runningBridge{b: b, s: s}, nil
}

// saveOpenPGPKey saves the OpenPGP key the bridge made for an account from
// before OpenPGP (now in s.keys) into the vault, so every start uses the
// same one, and, for a cautious account, into the provider's key backup,
// so a device logged in later gets it too. A backup that cannot be
// replaced now (provider unreachable) is logged: it gets the key with the
// next `umbra account passwd`.
func saveOpenPGPKey(ctx context.Context, s *session, password []byte, log *slog.Logger) error {
	path := filepath.Join(s.dir, vaultFile)
	if err := vault.Save(path, password, s.keys); err != nil {
		return fmt.Errorf("save the new OpenPGP key in the vault: %w", err)
	}
	if s.info.Mode != dmap.ModeCautious {
		return nil
	}
	sealed, err := os.ReadFile(path)
	if err == nil {
		err = replaceBackup(ctx, s.cl, s.info.Address, password, sealed)
	}
	if err != nil {
		log.Warn("the provider's key backup does not hold the new OpenPGP key yet; `umbra account passwd` puts it there", "err", err)
	}
	return nil
}

func printClientSettings(w io.Writer, b *bridge.Bridge) {
	fmt.Fprintf(w, "bridge for %s\n", b.Username())
	fmt.Fprintf(w, "IMAP      %s (STARTTLS offered; plaintext allowed on loopback)\n", strings.Join(b.IMAPAddrs(), " and "))
	if a := b.IMAPSAddrs(); len(a) > 0 {
		fmt.Fprintf(w, "IMAPS     %s (implicit TLS)\n", strings.Join(a, " and "))
	}
	fmt.Fprintf(w, "SMTP      %s (STARTTLS offered; plaintext allowed on loopback)\n", strings.Join(b.SMTPAddrs(), " and "))
	fmt.Fprintf(w, "TLS       trust the CA certificate of `umbra bridge cert export`\n")
	fmt.Fprintf(w, "username  %s\n", b.Username())
	fmt.Fprintf(w, "password  %s\n", b.MailPassword())
}

// runningStatus reads the status of the running bridge of the account
// --dir or --account chooses, for verbs that take no arguments.
func runningStatus(c *cmd) (*bridge.Status, error) {
	dir, account := bridgeDir(c)
	if _, err := c.parse(0, 0); err != nil {
		return nil, err
	}
	d, err := resolveBridgeDir(*dir, *account)
	if err != nil {
		return nil, err
	}
	return bridge.ReadStatus(d)
}

func runBridgeStatus(c *cmd) error {
	st, err := runningStatus(c)
	if err != nil {
		return err
	}
	w := c.stdout
	state := "online"
	if !st.Online {
		state = "offline (serving the local copy; the outbox waits)"
	}
	fmt.Fprintf(w, "account     %s\n", st.Address)
	fmt.Fprintf(w, "state       %s, up since %s\n", state, st.Started.Format(time.DateTime))
	fmt.Fprintf(w, "IMAP        %s\n", strings.Join(st.IMAP, " and "))
	if len(st.IMAPS) > 0 {
		fmt.Fprintf(w, "IMAPS       %s\n", strings.Join(st.IMAPS, " and "))
	}
	fmt.Fprintf(w, "SMTP        %s\n", strings.Join(st.SMTP, " and "))
	sync := fmt.Sprintf("up to date at position %d", st.Cursor)
	if st.CatchingUp {
		sync = fmt.Sprintf("catching up: position %d of %d", st.Cursor, st.Head)
		if st.Head > 0 {
			sync += fmt.Sprintf(" (%.0f%%)", 100*float64(st.Cursor)/float64(st.Head))
		}
	}
	fmt.Fprintf(w, "sync        %s; %d documents applied, %d messages received, %.1f MB down, %.1f MB up\n",
		sync, st.Applied, st.Received, float64(st.Downloaded)/1e6, float64(st.Uploaded)/1e6)
	if st.UnknownDocs > 0 {
		fmt.Fprintf(w, "unreadable  %d synced documents of a kind this version cannot read (the last: %q); a later Umbra reads them\n",
			st.UnknownDocs, st.UnknownKind)
	}
	fmt.Fprintf(w, "pending     %d local changes to push\n", st.Pending)
	fmt.Fprintf(w, "outbox      %d messages waiting; %d sent since start\n", st.Outbox, st.Sent)
	switch a := st.Audit; {
	case a == nil:
		fmt.Fprintf(w, "key audit   not yet\n")
	case len(a.Alarms) > 0:
		fmt.Fprintf(w, "key audit   %d ALARMS: see umbra keys audit\n", len(a.Alarms))
	case a.NoLog:
		fmt.Fprintf(w, "key audit   the provider keeps no transparency log\n")
	default:
		fmt.Fprintf(w, "key audit   no alarm; %d log records checked at %s\n", a.Checked, a.At.Format(time.DateTime))
	}
	if st.LastError != "" {
		fmt.Fprintf(w, "last error  %s (%s)\n", st.LastError, st.ErrorAt.Format(time.DateTime))
	}
	return nil
}

func runBridgeCertExport(c *cmd) error {
	dir, account := bridgeDir(c)
	args, err := c.parse(0, 1)
	if err != nil {
		return err
	}
	d, err := resolveBridgeDir(*dir, *account)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(filepath.Join(d, bridge.CertFile))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no CA certificate in %s yet: start the bridge once", d)
	}
	if err != nil {
		return err
	}
	// A bridge from before the CA left its own certificate there, which
	// mail clients cannot import as an authority; its next start
	// replaces it.
	if blk, _ := pem.Decode(data); blk != nil {
		if cert, err := x509.ParseCertificate(blk.Bytes); err == nil && !cert.IsCA {
			return fmt.Errorf("%s is the certificate of an older bridge, not its CA: start the bridge once to make the CA", filepath.Join(d, bridge.CertFile))
		}
	}
	if len(args) == 0 {
		_, err = c.stdout.Write(data)
		return err
	}
	return os.WriteFile(args[0], data, 0o644)
}
