// Package testnet starts a whole Umbra network on loopback: an embedded DNS
// server answering the _dime records, and providers for any number of
// domains, each with its own directory, organisation keys, self-signed
// certificate and configuration file, exactly as `umbra server init`
// makes them. Providers run in-process, or as child processes from the
// same directory (the durability tests kill them). Tests use it, and
// `umbra demo` will.
//
// Concurrency: a Network's methods may be called from several goroutines;
// each Node is driven by one caller at a time.
package testnet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"umbra/dmime"
	"umbra/dnsrec"
	"umbra/dnsrec/dnstest"
	"umbra/keyfile"
	"umbra/provider"
	"umbra/provider/store"
	"umbra/signet"
)

// Network is a DNS server and the providers it announces.
type Network struct {
	DNS *dnstest.Server
	Dir string

	mu    sync.Mutex
	nodes map[string]*Node
}

// Node is one provider's domain: its directory and, while it runs
// in-process, the provider.
type Node struct {
	Domain   string
	Dir      string
	DMTP     string                // 127.0.0.1:port, as published
	DMAP     string                // the DMAP base URL, https://127.0.0.1:port/dmap/v1/
	MX       string                // the legacy SMTP MX, 127.0.0.1:port
	DKIM     []provider.DKIMRecord // published for the relay's DKIM keys
	Record   *dnsrec.Record
	Provider *provider.Provider // nil unless started in-process
	net      *Network
}

// New starts the DNS server; providers are added with AddProvider. Dir
// holds their directories.
func New(dir string) (*Network, error) {
	dns, err := dnstest.Start()
	if err != nil {
		return nil, err
	}
	return &Network{DNS: dns, Dir: dir, nodes: map[string]*Node{}}, nil
}

// Close stops every in-process provider and the DNS server.
func (n *Network) Close() {
	n.mu.Lock()
	nodes := n.nodes
	n.mu.Unlock()
	for _, nd := range nodes {
		nd.Stop()
	}
	n.DNS.Close()
}

// Resolver is a resolver that asks the network's DNS server.
func (n *Network) Resolver() *dnsrec.Resolver {
	return &dnsrec.Resolver{Server: n.DNS.Addr, Timeout: 2 * time.Second}
}

// Node returns the node of domain, or nil.
func (n *Network) Node(domain string) *Node {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.nodes[domain]
}

// AddProvider initialises a provider directory for domain, as `umbra
// server init` does, and publishes its _dime record. It does not start it.
func (n *Network) AddProvider(domain string) (*Node, error) {
	dir := filepath.Join(n.Dir, domain)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dmtp := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	dport, err := freePort()
	if err != nil {
		return nil, err
	}
	dmapAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(dport))
	dmapURL := "https://" + dmapAddr + "/dmap/v1/"
	mport, err := freePort()
	if err != nil {
		return nil, err
	}
	mxAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(mport))
	pin, err := provider.CreateCert(dir, []string{"127.0.0.1", domain}, 30)
	if err != nil {
		return nil, err
	}
	_, rec, err := provider.CreateOrg(dir, provider.OrgOptions{
		Domain: domain, DMTP: dmtp, DMAP: dmapURL, TLSPin: pin,
		Days: 30, Policy: dnsrec.PolicyStrict, ExpDays: 7,
	})
	if err != nil {
		return nil, err
	}
	dkim, err := provider.CreateDKIM(dir, domain)
	if err != nil {
		return nil, err
	}
	for _, r := range dkim {
		n.DNS.AddTXT(r.Name, r.Strings()...)
	}
	if err := provider.WriteConfig(dir, map[string]string{
		"dmtp_listen": dmtp, "dmap_listen": dmapAddr, "mx_listen": mxAddr, "metrics_listen": "off", "dns": n.DNS.Addr, "node": domain,
		"tunnel_private": "yes",
	}); err != nil {
		return nil, err
	}
	n.DNS.AddTXT("_dime."+domain, rec.TXT()...)
	nd := &Node{Domain: domain, Dir: dir, DMTP: dmtp, DMAP: dmapURL, MX: mxAddr, DKIM: dkim, Record: rec, net: n}
	n.mu.Lock()
	n.nodes[domain] = nd
	n.mu.Unlock()
	return nd, nil
}

// Start runs the node's provider in-process; override adjusts its
// configuration (fast retries in tests, say).
func (nd *Node) Start(override func(*provider.Config)) error {
	p, err := provider.Open(nd.Dir, func(c *provider.Config) {
		c.Resolver = nd.net.Resolver()
		c.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		if override != nil {
			override(c)
		}
	})
	if err != nil {
		return err
	}
	if err := p.Start(); err != nil {
		p.Close()
		return err
	}
	nd.Provider = p
	return nil
}

// Stop closes the in-process provider, if running.
func (nd *Node) Stop() {
	if nd.Provider != nil {
		nd.Provider.Close()
		nd.Provider = nil
	}
}

// User is an account's keys, as the user's device holds them.
type User struct {
	Address  string
	Signing  ed25519.PrivateKey
	Enc      hpke.PrivateKey
	Recovery ed25519.PrivateKey
	Signet   *signet.User
}

// NewUser creates an account at the node's running provider the way a
// device will: the operator's invitation, keys made on the device, a
// signing request, issuance.
func (nd *Node) NewUser(ctx context.Context, address string) (*User, error) {
	p := nd.Provider
	if p == nil {
		return nil, fmt.Errorf("testnet: %s is not running in-process", nd.Domain)
	}
	code, err := p.AddUser(ctx, address)
	if err != nil {
		return nil, err
	}
	u, req, err := newKeys(address, p.Org().Signet)
	if err != nil {
		return nil, err
	}
	if u.Signet, err = p.Issue(ctx, address, code, store.ModeParanoid, req); err != nil {
		return nil, err
	}
	return u, nil
}

// newKeys makes address's keys, as a device does, and the signing
// request for them within org's validity.
func newKeys(address string, org *signet.Org) (*User, *signet.User, error) {
	u := &User{Address: address}
	_, u.Signing, _ = ed25519.GenerateKey(nil)
	_, u.Recovery, _ = ed25519.GenerateKey(nil)
	var err error
	if u.Enc, err = signet.KEM().GenerateKey(); err != nil {
		return nil, nil, err
	}
	req, err := signet.NewRequest(signet.UserFields{
		SigningKey: u.Signing.Public().(ed25519.PublicKey), Enc: u.Enc.PublicKey(),
		RecoveryKey: u.Recovery.Public().(ed25519.PublicKey), Address: address,
		NotBefore: org.NotBefore, NotAfter: org.NotAfter,
	}, u.Signing, nil)
	if err != nil {
		return nil, nil, err
	}
	return u, req, nil
}

// Seal seals mime from one user to another, with the organisation signets
// of both nodes, as the author's bridge will.
func Seal(from *User, fromNode *Node, to *User, toNode *Node, mime []byte) ([]byte, error) {
	fo, err := fromNode.OrgSignet()
	if err != nil {
		return nil, err
	}
	do, err := toNode.OrgSignet()
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	_, err = dmime.Seal(&out, bytes.NewReader(mime), dmime.SealParams{
		Author:      dmime.Party{Address: from.Address, Fingerprint: from.Signet.Fingerprint(), Enc: from.Signet.Enc},
		AuthorKey:   from.Signing,
		Carried:     &dmime.Carried{Signet: from.Signet.Bytes()},
		Origin:      dmime.Party{Address: fo.Domain, Fingerprint: fo.Fingerprint(), Enc: fo.Enc},
		Destination: dmime.Party{Address: do.Domain, Fingerprint: do.Fingerprint(), Enc: do.Enc},
		Recipient:   dmime.Party{Address: to.Address, Fingerprint: to.Signet.Fingerprint(), Enc: to.Signet.Enc},
	})
	return out.Bytes(), err
}

// OrgSignet reads the node's organisation signet from its directory.
func (nd *Node) OrgSignet() (*signet.Org, error) {
	raw, err := keyfile.ReadSignet(filepath.Join(nd.Dir, provider.SignetFile))
	if err != nil {
		return nil, err
	}
	return signet.ParseOrg(raw)
}
