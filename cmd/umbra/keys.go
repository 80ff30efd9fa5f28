package main

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"umbra/dnsrec"
	"umbra/keyfile"
	"umbra/provider"
	"umbra/signet"
)

func init() {
	register(verb{
		words:    "keys gen-org",
		synopsis: "--domain D --out DIR",
		help: `create an organisation's keys and signet, and print its _dime DNS record

Writes into DIR (created if needed):
  pok.key      the primary organisation key (POK). It signs only the
               organisation signet: after this command, move it offline.
  sok.key      a secondary organisation key (SOK) that may sign user signets,
               messages and TLS certificates; it stays on the server.
  enc.key      the organisation encryption key (ML-KEM-768+X25519), which
               opens the destination part of incoming messages.
  org.signet   the organisation signet, signed by the POK.
Existing files are never overwritten. Then prints the TXT record to publish
at _dime.D.`,
		run: runKeysGenOrg,
	})
	register(verb{
		words:    "keys inspect",
		synopsis: "FILE",
		help: `show any signet in words and say whether it verifies

FILE is a signet, PEM or binary. An organisation signet is checked on its own.
A user signet is checked against its organisation's signet (--org) and, with
--prev, as the successor of an earlier signet of the same address; without
--org only the user's self-signature is checked. Exit status 1 when it does
not verify.`,
		run: runKeysInspect,
	})
}

func runKeysGenOrg(c *cmd) error {
	domain := c.flags.String("domain", "", "the organisation's domain (required)")
	out := c.flags.String("out", "", "directory for the key files and signet (required)")
	dmtp := c.flags.String("dmtp", "", "DMTP endpoint host:port (default <domain>:26)")
	dmap := c.flags.String("dmap", "", "DMAP base URL (default https://<domain>/dmap/v1/)")
	tlsCert := c.flags.String("tls-cert", "", "PEM certificate of the DMTP/DMAP server, to pin in the signet and record")
	days := c.flags.Int("days", 365, "validity of the organisation signet in days")
	pol := c.flags.String("pol", "strict", "policy in the DNS record: experimental, mixed or strict")
	exp := c.flags.Int("exp", 30, "days that clients keep the domain's dark policy cached")
	if _, err := c.parse(0, 0); err != nil {
		return err
	}
	if *domain == "" || *out == "" {
		return usageErrorf("--domain and --out are required")
	}
	if err := signet.CheckDomain(*domain); err != nil {
		return usageErrorf("%v", err)
	}
	if *dmtp == "" {
		*dmtp = *domain + ":26"
	}
	if *dmap == "" {
		*dmap = "https://" + *domain + "/dmap/v1/"
	}
	if *days < 1 || *days > 3650 {
		return usageErrorf("--days must be 1 to 3650")
	}
	policy, err := dnsrec.ParsePolicy(*pol)
	if err != nil {
		return usageErrorf("%v", err)
	}
	var pin []byte
	if *tlsCert != "" {
		if pin, err = certPin(*tlsCert); err != nil {
			return err
		}
	}
	org, rec, err := provider.CreateOrg(*out, provider.OrgOptions{Domain: *domain, DMTP: *dmtp, DMAP: *dmap,
		TLSPin: pin, Days: *days, Policy: policy, ExpDays: *exp})
	if err != nil {
		return err
	}
	path := func(n string) string { return filepath.Join(*out, n) }
	w := c.stdout
	fmt.Fprintf(w, "Created the organisation keys of %s in %s:\n", *domain, *out)
	fmt.Fprintf(w, "  %s  POK: move it offline now; it is needed only to re-sign the organisation signet\n", path(provider.POKFile))
	fmt.Fprintf(w, "  %s  SOK: stays on the server; signs user signets and messages\n", path(provider.SOKFile))
	fmt.Fprintf(w, "  %s  organisation encryption key: stays on the server\n", path(provider.EncFile))
	fmt.Fprintf(w, "  %s  organisation signet, valid until %s\n", path(provider.SignetFile), org.NotAfter.Format(time.DateOnly))
	fmt.Fprintf(w, "\nSignet fingerprint (read aloud to compare): %s\n", org.Fingerprint().Human())
	fmt.Fprintf(w, "\nPublish this DNS record (sign the zone with DNSSEC if you can):\n\n%s\n", zoneLine(*domain, rec))
	return nil
}

// certPin reads a PEM certificate and returns its tls= pin.
func certPin(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(raw)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no PEM CERTIFICATE block", path)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return dnsrec.CertificatePin(cert), nil
}

func runKeysInspect(c *cmd) error {
	orgPath := c.flags.String("org", "", "the organisation signet to check a user signet against")
	prevPath := c.flags.String("prev", "", "an earlier signet of the same address that this one should succeed")
	at := c.flags.String("at", "", "check validity at this time (RFC 3339) instead of now")
	args, err := c.parse(1, 1)
	if err != nil {
		return err
	}
	now := time.Now()
	if *at != "" {
		if now, err = time.Parse(time.RFC3339, *at); err != nil {
			return usageErrorf("--at: %v", err)
		}
	}
	raw, err := keyfile.ReadSignet(args[0])
	if err != nil {
		return err
	}
	v, err := signet.Parse(raw)
	if err != nil {
		fmt.Fprintf(c.stdout, "%s: not a valid signet\nverdict: INVALID: %v\n", args[0], err)
		return fmt.Errorf("invalid signet")
	}
	var verdict error
	switch s := v.(type) {
	case *signet.Org:
		printOrg(c.stdout, s)
		verdict = s.Verify(now)
	case *signet.User:
		printUser(c.stdout, s)
		verdict = verifyUserFiles(c.stdout, s, *orgPath, *prevPath, now)
	}
	if verdict != nil {
		fmt.Fprintf(c.stdout, "verdict: INVALID: %v\n", verdict)
		return fmt.Errorf("signet does not verify")
	}
	fmt.Fprintf(c.stdout, "verdict: VALID at %s\n", now.UTC().Format(time.RFC3339))
	return nil
}

// verifyUserFiles checks u against the organisation and previous signets
// named by the flags, saying which checks it could not make.
func verifyUserFiles(w io.Writer, u *signet.User, orgPath, prevPath string, now time.Time) error {
	if prevPath != "" {
		raw, err := keyfile.ReadSignet(prevPath)
		if err != nil {
			return err
		}
		prev, err := signet.ParseUser(raw)
		if err != nil {
			return fmt.Errorf("--prev: %w", err)
		}
		if err := signet.VerifyChain(prev, u); err != nil {
			return err
		}
		fmt.Fprintln(w, "chain: succeeds --prev correctly")
	}
	if orgPath == "" {
		fmt.Fprintln(w, "note: organisation signature not checked (pass --org FILE); checking the self-signature only")
		return u.VerifySelf()
	}
	raw, err := keyfile.ReadSignet(orgPath)
	if err != nil {
		return err
	}
	org, err := signet.ParseOrg(raw)
	if err != nil {
		return fmt.Errorf("--org: %w", err)
	}
	if u.IsRequest() {
		if err := u.VerifySelf(); err != nil {
			return err
		}
		return fmt.Errorf("a signing request: not certified by %s yet", org.Domain)
	}
	return u.Verify(org, now)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// keyID is a short, comparable name for a large public key.
func keyID(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + base64.RawURLEncoding.EncodeToString(s[:12])
}

func printOrg(w io.Writer, o *signet.Org) {
	fp := o.Fingerprint()
	fmt.Fprintf(w, "organisation signet, %d bytes\n", len(o.Bytes()))
	row := func(k, v string) { fmt.Fprintf(w, "  %-16s %s\n", k, v) }
	row("domain", o.Domain)
	row("fingerprint", fp.String())
	row("read aloud", fp.Human())
	row("POK", b64(o.POK))
	for _, s := range o.SOKs {
		row("SOK", b64(s.Key)+"  may sign: "+perms(s.Perms))
	}
	row("encryption key", "ML-KEM-768+X25519 "+keyID(o.Enc.Bytes()))
	row("DMTP", o.DMTP)
	if o.DMAP != "" {
		row("DMAP", o.DMAP)
	}
	if o.TLSPin != nil {
		row("TLS pin", b64(o.TLSPin))
	}
	if o.LogKey != "" {
		row("log key", o.LogKey)
	}
	row("valid", o.NotBefore.Format(time.RFC3339)+" to "+o.NotAfter.Format(time.RFC3339))
}

func perms(p signet.Permission) string {
	var s []string
	for _, x := range []struct {
		p    signet.Permission
		name string
	}{{signet.PermSignSignets, "signets"}, {signet.PermSignMessages, "messages"}, {signet.PermTLS, "tls"}} {
		if p&x.p != 0 {
			s = append(s, x.name)
		}
	}
	return strings.Join(s, ", ")
}

func printUser(w io.Writer, u *signet.User) {
	fp := u.Fingerprint()
	kind := "user signet"
	if u.IsRequest() {
		kind = "user signing request (not certified by the organisation)"
	}
	fmt.Fprintf(w, "%s, %d bytes\n", kind, len(u.Bytes()))
	row := func(k, v string) { fmt.Fprintf(w, "  %-16s %s\n", k, v) }
	row("address", u.Address)
	row("fingerprint", fp.String())
	row("read aloud", fp.Human())
	row("signing key", b64(u.SigningKey))
	row("encryption key", "ML-KEM-768+X25519 "+keyID(u.Enc.Bytes()))
	row("recovery key", b64(u.RecoveryKey))
	row("valid", u.NotBefore.Format(time.RFC3339)+" to "+u.NotAfter.Format(time.RFC3339))
	if u.Prev.IsZero() {
		row("chain", "first signet of this address")
	} else {
		row("succeeds", u.Prev.String()+" (custody signed by its "+u.Custody.String()+")")
	}
	if !u.IsRequest() {
		row("certified by", b64(u.OrgSigner))
	}
}
