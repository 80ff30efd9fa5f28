package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
	"unicode"

	"umbra/atomicfile"
	"umbra/dnsrec"
	"umbra/provider"
	"umbra/provider/store"
	"umbra/signet"
)

// The operator's verbs for a provider (DESIGN §1): create its directory,
// run it, and manage its accounts and outbound queue. The management verbs
// open the provider's store directly, also while `server run` serves it
// from another process: SQLite in WAL mode serialises the two processes'
// writes with its file locks and a busy timeout.

func init() {
	register(verb{words: "server init", synopsis: "--domain D --dir DIR", run: runServerInit,
		help: `create a provider's directory: keys, TLS certificate, configuration

Creates DIR (mode 0700; it must be new or empty) and writes into it:
  pok.key      the primary organisation key (POK). It signs only the
               organisation signet: move it offline after this command.
  sok.key      the secondary organisation key (SOK): signs user signets
               and messages; the server needs it.
  enc.key      the organisation encryption key (ML-KEM-768+X25519).
  org.signet   the organisation signet, signed by the POK.
  tls.crt/key  the DMTP server's TLS certificate: self-signed for
               --hostname, or copies of --tls-cert and --tls-key. Peers
               trust it through the pin in the signet and the DNS record,
               so no certificate authority is needed. It is copied rather
               than referenced so that a renewal elsewhere cannot change
               the pinned key behind the record's back.
  umbra.conf   the configuration, every setting documented.
Then prints every DNS record to publish, with what each is for, and what
to do next. On failure DIR is left empty.`})
	register(verb{words: "server run", synopsis: "--dir DIR", run: runServerRun,
		help: `run a provider: DMTP over TLS 1.3, the outbound queue, metrics

Serves the provider in DIR (see umbra server init) until SIGINT or SIGTERM,
then shuts down gracefully: it stops accepting connections and lets
messages being received finish (up to 30 seconds); a second signal stops at
once. Prints the listening addresses; logs go to stderr (log/slog text).
--dns overrides the configuration's dns setting.`})
	register(verb{words: "server user add", synopsis: "ADDRESS --dir DIR", run: runUserAdd,
		help: `invite a user: create the account and print its invitation code

The code is shown only this once; the provider keeps only its hash. The
user's device redeems it over DMAP to create its keys and complete the
account (the device side, umbra account create, comes with DMAP). Works
while the server runs.`})
	register(verb{words: "server user list", synopsis: "--dir DIR", run: runUserList,
		help: `list the accounts: address, state, custody mode, creation time`})
	register(verb{words: "server user disable", synopsis: "ADDRESS --dir DIR", run: runUserDisable,
		help: `disable an account for good

A disabled account receives no mail and cannot sign in; the address cannot
be invited again. Works while the server runs.`})
	register(verb{words: "server queue list", synopsis: "--dir DIR", run: runQueueList,
		help: `list the outbound queue: messages waiting for another domain

Shows each entry's id, destination domain, size, age, delivery attempts,
next attempt and the last error the destination or the network gave.`})
	register(verb{words: "server queue retry", synopsis: "ID --dir DIR", run: runQueueRetry,
		help: `make a queue entry due now instead of at its next attempt

An entry held by a relay worker is released to be claimed again. A waiting
entry is queued afresh (it gets a new id, and its attempt count and age
start again, so it has the full queue_max_age before it bounces).`})
	register(verb{words: "server queue drop", synopsis: "ID --dir DIR", run: runQueueDrop,
		help: `remove an entry from the outbound queue without delivering it

The author is not notified; the message is gone.`})
}

// opTimeout bounds one management verb's work on the store, including
// waiting for the running server's write lock.
const opTimeout = 30 * time.Second

func dirFlag(fs *flag.FlagSet) *string {
	return fs.String("dir", "", "the provider's directory, as made by umbra server init (required)")
}

// openProvider opens the provider in dir without starting it, after
// checking that dir is a provider directory at all (provider.Open would
// otherwise report a missing file only).
func openProvider(dir string, override func(*provider.Config)) (*provider.Provider, error) {
	if dir == "" {
		return nil, usageErrorf("--dir is required")
	}
	if _, err := os.Stat(filepath.Join(dir, provider.ConfigFile)); err != nil {
		return nil, fmt.Errorf("%s is not a provider directory (%w); create one with umbra server init", dir, err)
	}
	return provider.Open(dir, override)
}

// withProvider runs fn on the provider in dir, closing it afterwards.
func withProvider(dir string, fn func(ctx context.Context, p *provider.Provider) error) error {
	p, err := openProvider(dir, nil)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	err = fn(ctx, p)
	return errors.Join(err, p.Close())
}

func runServerInit(c *cmd) (err error) {
	domain := c.flags.String("domain", "", "the organisation's domain (required)")
	dir := c.flags.String("dir", "", "the directory to create, new or empty (required)")
	hostname := c.flags.String("hostname", "", "this server's host name, for the certificate and the records (default: the domain)")
	listen := c.flags.String("dmtp-listen", ":26", "address DMTP listens on")
	public := c.flags.String("dmtp-public", "", "DMTP endpoint senders connect to, `host:port`, published as dx= (default: the host name and the --dmtp-listen port)")
	metricsAddr := c.flags.String("metrics", "127.0.0.1:9426", "address of the Prometheus metrics endpoint, or off")
	dmapListen := c.flags.String("dmap-listen", ":443", "address DMAP (HTTPS for users' devices) listens on, or off")
	dmap := c.flags.String("dmap", "", "DMAP base URL for users' devices (default https://HOSTNAME/dmap/v1/)")
	certFile := c.flags.String("tls-cert", "", "PEM certificate to use instead of a self-signed one (with --tls-key)")
	keyFile := c.flags.String("tls-key", "", "PEM private key of --tls-cert")
	days := c.flags.Int("days", 365, "validity of the organisation signet and the self-signed certificate, in days")
	pol := c.flags.String("pol", "strict", "policy in the DNS record: experimental, mixed or strict")
	exp := c.flags.Int("exp", 30, "days senders keep the domain's dark policy after they last saw the record")
	if _, err := c.parse(0, 0); err != nil {
		return err
	}
	if *domain == "" || *dir == "" {
		return usageErrorf("--domain and --dir are required")
	}
	d, err := dnsrec.NormalizeDomain(*domain)
	if err != nil {
		return usageErrorf("%v", err)
	}
	host := d
	if *hostname != "" {
		if host, err = checkHostname(*hostname); err != nil {
			return usageErrorf("--hostname: %v", err)
		}
	}
	if (*certFile == "") != (*keyFile == "") {
		return usageErrorf("give --tls-cert and --tls-key together")
	}
	if *days < 1 || *days > 3650 {
		return usageErrorf("--days must be 1 to 3650")
	}
	policy, err := dnsrec.ParsePolicy(*pol)
	if err != nil {
		return usageErrorf("%v", err)
	}
	conf := map[string]string{"dmtp_listen": *listen, "dmap_listen": *dmapListen, "metrics_listen": *metricsAddr}
	if err := provider.CheckConfig(*dir, conf); err != nil {
		return usageErrorf("%v", err)
	}
	dx := *public
	if dx == "" {
		_, port, _ := net.SplitHostPort(*listen) // checked above
		if port == "0" {
			return usageErrorf("--dmtp-listen %s has no fixed port; give --dmtp-public HOST:PORT, the endpoint the DNS record publishes", *listen)
		}
		dx = net.JoinHostPort(host, port)
	}
	if *dmap == "" {
		// The published URL carries the listen port unless it is 443.
		h := urlHost(host)
		if _, port, err := net.SplitHostPort(*dmapListen); err == nil && port != "443" && port != "0" {
			h = net.JoinHostPort(host, port)
		}
		*dmap = (&url.URL{Scheme: "https", Host: h, Path: "/dmap/v1/"}).String()
	}

	// The directory is the provider's own (it holds the SOK): new or
	// empty, so nothing is overwritten, and a failure below can remove
	// everything in it.
	if ents, err := os.ReadDir(*dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("%s is not empty; give server init a new or empty directory", *dir)
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(*dir, 0o700); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			ents, _ := os.ReadDir(*dir)
			for _, e := range ents {
				os.RemoveAll(filepath.Join(*dir, e.Name()))
			}
		}
	}()

	certNote := "self-signed for " + host
	var pin []byte
	if *certFile != "" {
		if pin, err = copyCert(*dir, *certFile, *keyFile); err != nil {
			return err
		}
		certNote = "copied from " + *certFile
	} else if pin, err = provider.CreateCert(*dir, []string{host}, *days); err != nil {
		return err
	}
	org, rec, err := provider.CreateOrg(*dir, provider.OrgOptions{Domain: d, DMTP: dx, DMAP: *dmap, TLSPin: pin,
		Days: *days, Policy: policy, ExpDays: *exp})
	if err != nil {
		return err
	}
	if err := provider.WriteConfig(*dir, conf); err != nil {
		return err
	}
	printInit(c.stdout, *dir, org, rec, host, certNote)
	return nil
}

// checkHostname accepts a DNS host name (returned in lower case) or an IP
// address.
func checkHostname(h string) (string, error) {
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.String(), nil
	}
	return dnsrec.NormalizeDomain(h)
}

func urlHost(h string) string {
	if strings.Contains(h, ":") {
		return "[" + h + "]"
	}
	return h
}

// copyCert checks that a certificate and key belong together and copies
// them into dir under the names the configuration uses; it returns the
// pin of the certificate's public key.
func copyCert(dir, certFile, keyFile string) ([]byte, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s and --tls-key %s: %w", certFile, keyFile, err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s: %w", certFile, err)
	}
	if err := atomicfile.Create(filepath.Join(dir, provider.KeyFile), keyPEM); err != nil {
		return nil, err
	}
	if err := atomicfile.Create(filepath.Join(dir, provider.CertFile), certPEM); err != nil {
		return nil, err
	}
	return dnsrec.CertificatePin(leaf), nil
}

func printInit(w io.Writer, dir string, org *signet.Org, rec *dnsrec.Record, host, certNote string) {
	file := func(n string) string { return filepath.Join(dir, n) }
	until := org.NotAfter.Format(time.DateOnly)
	fmt.Fprintf(w, "Created the provider of %s in %s:\n", org.Domain, dir)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  %s\tPOK: signs only the organisation signet. Move it offline now.\n", file(provider.POKFile))
	fmt.Fprintf(tw, "  %s\tSOK: signs user signets and messages; stays on the server\n", file(provider.SOKFile))
	fmt.Fprintf(tw, "  %s\torganisation encryption key; stays on the server\n", file(provider.EncFile))
	fmt.Fprintf(tw, "  %s\torganisation signet, valid until %s\n", file(provider.SignetFile), until)
	fmt.Fprintf(tw, "  %s, %s\tTLS certificate and key, %s\n", file(provider.CertFile), provider.KeyFile, certNote)
	fmt.Fprintf(tw, "  %s\tconfiguration, every setting documented\n", file(provider.ConfigFile))
	tw.Flush()
	fmt.Fprintf(w, "\nSignet fingerprint (read it aloud to compare): %s\n", org.Fingerprint().Human())

	dxHost, dxPort, _ := net.SplitHostPort(rec.DX)
	fmt.Fprintf(w, "\nPublish these records in the zone of %s and sign it with DNSSEC:\n\n", org.Domain)
	fmt.Fprintf(w, "; _dime: the organisation keys, DMTP endpoint, TLS pin and signet fingerprint that senders check before every delivery. Policy %s.\n", policyWords[rec.Policy])
	fmt.Fprintln(w, zoneLine(org.Domain, rec))
	v4, v6 := publicAddrs()
	for _, h := range uniqueNames(dxHost, host) {
		fmt.Fprintf(w, "; A/AAAA: the addresses of this server, which senders reach at %s (DMTP, TCP port %s).\n", h, dxPort)
		fmt.Fprintf(w, "%s. IN A %s\n%s. IN AAAA %s\n", h, v4, h, v6)
	}
	fmt.Fprintf(w, "; MX: where legacy (SMTP) mail for %s goes. Umbra's legacy MX is not implemented yet: keep your current MX until it is, then point it here.\n", org.Domain)
	if net.ParseIP(host) == nil {
		fmt.Fprintf(w, "%s. IN MX 10 %s.\n", org.Domain, host)
	} else {
		fmt.Fprintf(w, "; (an MX record names a host, not an address: give --hostname a DNS name)\n")
	}

	fmt.Fprintf(w, "\nNext steps:\n")
	fmt.Fprintf(w, "  1. Move %s offline (an encrypted USB stick, a safe). The server never uses it; you need it to re-sign the organisation signet before %s.\n", file(provider.POKFile), until)
	fmt.Fprintf(w, "  2. Let TCP port %s through the firewall. Ports below 1024 need root or CAP_NET_BIND_SERVICE.\n", dxPort)
	fmt.Fprintf(w, "  3. Start the server:  umbra server run --dir %s\n", dir)
	fmt.Fprintf(w, "  4. Invite users:      umbra server user add alice@%s --dir %s\n", org.Domain, dir)
}

// uniqueNames returns the host names among hosts, each once; IP literals
// need no address records.
func uniqueNames(hosts ...string) []string {
	var out []string
	for _, h := range hosts {
		if _, err := netip.ParseAddr(h); err != nil && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// publicAddrs proposes the record data for A and AAAA: this machine's
// public addresses if it has any, else placeholders (behind NAT the
// public address is not on any interface).
func publicAddrs() (v4, v6 string) {
	var a4, a6 []string
	addrs, _ := net.InterfaceAddrs() // no addresses: placeholders
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || !n.IP.IsGlobalUnicast() || n.IP.IsPrivate() {
			continue
		}
		if n.IP.To4() != nil {
			a4 = append(a4, n.IP.String())
		} else {
			a6 = append(a6, n.IP.String())
		}
	}
	v4, v6 = "<public IPv4 address>", "<public IPv6 address, or no AAAA record>"
	if len(a4) > 0 {
		v4 = strings.Join(a4, " or ")
	}
	if len(a6) > 0 {
		v6 = strings.Join(a6, " or ")
	}
	return v4, v6
}

func runServerRun(c *cmd) error {
	dir := dirFlag(c.flags)
	dnsServer := dnsFlag(c.flags)
	level := c.flags.String("log-level", "info", "least severe log level shown: debug, info, warn or error")
	if _, err := c.parse(0, 0); err != nil {
		return err
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return usageErrorf("--log-level %q: want debug, info, warn or error", *level)
	}
	var res *dnsrec.Resolver
	if *dnsServer != "" {
		var err error
		if res, err = dnsResolver(*dnsServer); err != nil {
			return err
		}
	}
	log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: lvl}))
	p, err := openProvider(*dir, func(cfg *provider.Config) {
		cfg.Logger = log
		if res != nil {
			cfg.Resolver = res
		}
	})
	if err != nil {
		return err
	}
	// Catch the signals before announcing the addresses: whoever waits
	// for them may signal at once.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := p.Start(); err != nil {
		return errors.Join(err, p.Close())
	}
	fmt.Fprintf(c.stdout, "serving %s\n", p.Domain())
	fmt.Fprintf(c.stdout, "dmtp     %s (TLS 1.3)\n", p.DMTPAddr())
	if d := p.DMAPAddr(); d != "" {
		fmt.Fprintf(c.stdout, "dmap     https://%s/dmap/v1/ (TLS 1.3)\n", d)
	}
	if m := p.MetricsAddr(); m != "" {
		fmt.Fprintf(c.stdout, "metrics  http://%s/metrics\n", m)
	}
	<-ctx.Done()
	stop() // a second signal now kills the process
	log.Info("shutting down: finishing messages being received; a second signal stops at once")
	if err := p.Close(); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// canonicalAddress lower-cases the domain of an address (the local part
// is case-sensitive) and checks the result.
func canonicalAddress(a string) (string, error) {
	local, domain, _ := strings.Cut(a, "@")
	if domain != "" {
		a = local + "@" + strings.ToLower(strings.TrimSuffix(domain, "."))
	}
	if err := signet.CheckAddress(a); err != nil {
		return "", usageErrorf("%v", err)
	}
	return a, nil
}

func runUserAdd(c *cmd) error {
	dir := dirFlag(c.flags)
	args, err := c.parse(1, 1)
	if err != nil {
		return err
	}
	addr, err := canonicalAddress(args[0])
	if err != nil {
		return err
	}
	return withProvider(*dir, func(ctx context.Context, p *provider.Provider) error {
		code, err := p.AddUser(ctx, addr)
		if errors.Is(err, store.ErrExists) {
			return fmt.Errorf("%s already has an account (see umbra server user list)", addr)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "Invited %s. Invitation code, shown only this once:\n\n    %s\n\n", addr, code)
		fmt.Fprintf(c.stdout, "Give it to the user over a channel you trust (in person, by phone). Their device\n"+
			"redeems it over DMAP to create their keys and complete the account (the device side,\n"+
			"umbra account create, comes with DMAP). It works once; the provider keeps only its hash.\n")
		return nil
	})
}

func runUserList(c *cmd) error {
	dir := dirFlag(c.flags)
	if _, err := c.parse(0, 0); err != nil {
		return err
	}
	return withProvider(*dir, func(ctx context.Context, p *provider.Provider) error {
		accts, err := p.Store().Accounts().List(ctx)
		if err != nil {
			return err
		}
		if len(accts) == 0 {
			fmt.Fprintln(c.stdout, "no accounts; add one with umbra server user add ADDRESS")
			return nil
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ADDRESS\tSTATE\tMODE\tCREATED")
		for _, a := range accts {
			mode := string(a.Mode)
			if mode == "" {
				mode = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Address, a.State, mode, stamp(a.Created))
		}
		return tw.Flush()
	})
}

func runUserDisable(c *cmd) error {
	dir := dirFlag(c.flags)
	args, err := c.parse(1, 1)
	if err != nil {
		return err
	}
	addr, err := canonicalAddress(args[0])
	if err != nil {
		return err
	}
	return withProvider(*dir, func(ctx context.Context, p *provider.Provider) error {
		a, err := p.Store().Accounts().Get(ctx, addr)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no account %s", addr)
		}
		if err != nil {
			return err
		}
		if a.State == store.StateDisabled {
			fmt.Fprintf(c.stdout, "%s was already disabled\n", addr)
			return nil
		}
		if err := p.Store().Accounts().Disable(ctx, addr); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "disabled %s (was %s): it receives no mail and cannot sign in, for good\n", addr, a.State)
		return nil
	})
}

func runQueueList(c *cmd) error {
	dir := dirFlag(c.flags)
	if _, err := c.parse(0, 0); err != nil {
		return err
	}
	return withProvider(*dir, func(ctx context.Context, p *provider.Provider) error {
		entries, err := p.Store().Queue().List(ctx)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			fmt.Fprintln(c.stdout, "the outbound queue is empty")
			return nil
		}
		now := time.Now()
		tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tDOMAIN\tSIZE\tAGE\tATTEMPTS\tNEXT ATTEMPT\tLAST ERROR")
		for _, e := range entries {
			next := "due now"
			switch {
			case e.LeaseOwner != "" && e.LeaseUntil.After(now):
				next = "being delivered by " + printable(e.LeaseOwner)
			case e.NextAttempt.After(now):
				next = "in " + span(e.NextAttempt.Sub(now))
			}
			lastErr := printable(e.LastError)
			if lastErr == "" {
				lastErr = "-"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", e.ID, e.Domain, size(e.Size), span(now.Sub(e.Created)), e.Attempts, next, lastErr)
		}
		return tw.Flush()
	})
}

// queueEntry parses an entry id and fetches the entry.
func queueEntry(ctx context.Context, p *provider.Provider, arg string) (store.QueueEntry, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id < 1 {
		return store.QueueEntry{}, usageErrorf("%q is not a queue entry id (see umbra server queue list)", arg)
	}
	e, err := p.Store().Queue().Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return e, fmt.Errorf("no queue entry %d (delivered, bounced or dropped; see umbra server queue list)", id)
	}
	return e, err
}

func runQueueRetry(c *cmd) error {
	dir := dirFlag(c.flags)
	args, err := c.parse(1, 1)
	if err != nil {
		return err
	}
	return withProvider(*dir, func(ctx context.Context, p *provider.Provider) error {
		e, err := queueEntry(ctx, p, args[0])
		if err != nil {
			return err
		}
		// A claimed entry is released too: if its worker is still
		// delivering, the destination may receive the message twice and
		// stores it once (delivery is idempotent).
		if err := p.Store().Queue().Retry(ctx, e.ID, time.Now()); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("entry %d left the queue meanwhile (delivered or bounced)", e.ID)
		} else if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "entry %d is due now; a running server sends it within seconds\n", e.ID)
		return nil
	})
}

func runQueueDrop(c *cmd) error {
	dir := dirFlag(c.flags)
	args, err := c.parse(1, 1)
	if err != nil {
		return err
	}
	return withProvider(*dir, func(ctx context.Context, p *provider.Provider) error {
		e, err := queueEntry(ctx, p, args[0])
		if err != nil {
			return err
		}
		if err := p.Store().Queue().Drop(ctx, e.ID); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("entry %d left the queue meanwhile (delivered or bounced)", e.ID)
		} else if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "dropped entry %d (%s to %s, queued %s ago); the author is not notified\n", e.ID, size(e.Size), e.Domain, span(time.Since(e.Created)))
		return nil
	})
}

// stamp formats a time for the operator's tables.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") }

// span formats a duration to its two largest units: 45s, 12m05s, 3h05m,
// 2d04h.
func span(d time.Duration) string {
	n := int64(max(d, 0) / time.Second)
	switch {
	case n < 60:
		return fmt.Sprintf("%ds", n)
	case n < 3600:
		return fmt.Sprintf("%dm%02ds", n/60, n%60)
	case n < 86400:
		return fmt.Sprintf("%dh%02dm", n/3600, n%3600/60)
	default:
		return fmt.Sprintf("%dd%02dh", n/86400, n%86400/3600)
	}
}

// size formats a byte count in binary units.
func size(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
}

// printable replaces control and other unprintable characters: error
// texts come from other servers and must not drive the operator's
// terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, s)
}
