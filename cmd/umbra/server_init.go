package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"umbra/atomicfile"
	"umbra/dnsrec"
	"umbra/provider"
	"umbra/signet"
)

func runServerInit(c *cmd) (err error) {
	domain := c.flags.String("domain", "", "the organisation's domain (required)")
	dir := c.flags.String("dir", "", "the directory to create, new or empty (required)")
	hostname := c.flags.String("hostname", "", "this server's host name, for the certificate and the records (default: the domain)")
	listen := c.flags.String("dmtp-listen", ":26", "address DMTP listens on")
	public := c.flags.String("dmtp-public", "", "DMTP endpoint senders connect to, `host:port`, published as dx= (default: the host name and the --dmtp-listen port)")
	metricsAddr := c.flags.String("metrics", "127.0.0.1:9426", "address of the Prometheus metrics endpoint, or off")
	dmapListen := c.flags.String("dmap-listen", ":443", "address DMAP (HTTPS for users' devices) listens on, or off")
	mxListen := c.flags.String("mx-listen", ":25", "address the legacy SMTP MX listens on, or off")
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
	conf := map[string]string{"dmtp_listen": *listen, "dmap_listen": *dmapListen, "mx_listen": *mxListen, "metrics_listen": *metricsAddr, "hostname": host}
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
	dkim, err := provider.CreateDKIM(*dir, d)
	if err != nil {
		return err
	}
	if err := provider.WriteConfig(*dir, conf); err != nil {
		return err
	}
	printInit(c.stdout, *dir, org, rec, host, certNote, dkim)
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

func printInit(w io.Writer, dir string, org *signet.Org, rec *dnsrec.Record, host, certNote string, dkim []provider.DKIMRecord) {
	file := func(n string) string { return filepath.Join(dir, n) }
	until := org.NotAfter.Format(time.DateOnly)
	fmt.Fprintf(w, "Created the provider of %s in %s:\n", org.Domain, dir)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  %s\tPOK: signs only the organisation signet. Move it offline now.\n", file(provider.POKFile))
	fmt.Fprintf(tw, "  %s\tSOK: signs user signets and messages; stays on the server\n", file(provider.SOKFile))
	fmt.Fprintf(tw, "  %s\torganisation encryption key; stays on the server\n", file(provider.EncFile))
	fmt.Fprintf(tw, "  %s\torganisation signet, valid until %s\n", file(provider.SignetFile), until)
	fmt.Fprintf(tw, "  %s, %s\tTLS certificate and key, %s\n", file(provider.CertFile), provider.KeyFile, certNote)
	fmt.Fprintf(tw, "  %s, %s\tDKIM keys that sign the legacy mail this server relays\n", file(provider.DKIMEd25519File), provider.DKIMRSAFile)
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
	fmt.Fprintf(w, "; MX: where legacy (SMTP) mail for %s goes: this server's MX seals it for the recipient on arrival.\n", org.Domain)
	if net.ParseIP(host) == nil {
		fmt.Fprintf(w, "%s. IN MX 10 %s.\n", org.Domain, host)
	} else {
		fmt.Fprintf(w, "; (an MX record names a host, not an address: give --hostname a DNS name)\n")
	}
	for _, r := range dkim {
		fmt.Fprintf(w, "; DKIM: the key that signs the legacy mail this server relays (receivers check it).\n")
		fmt.Fprintf(w, "%s IN TXT \"%s\"\n", r.Name, strings.Join(r.Strings(), "\" \""))
	}
	fmt.Fprintf(w, "; SPF (suggested): only this server sends mail for %s. Merge with an existing SPF record rather than add a second.\n", org.Domain)
	fmt.Fprintf(w, "%s. IN TXT \"v=spf1 mx a:%s -all\"\n", org.Domain, host)
	fmt.Fprintf(w, "; DMARC (suggested): start with p=none and reports, tighten to p=reject once reports show only this server.\n")
	fmt.Fprintf(w, "_dmarc.%s. IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@%s\"\n", org.Domain, org.Domain)

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
