package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"umbra/provider"
	"umbra/signet"
	"umbra/testnet"
)

// pair is a test network of two providers in this process, a.test and
// b.test, with an account on each — alice@a.test and bob@b.test, made as
// `umbra account create` makes them — and their bridges on ephemeral ports.
type pair struct {
	t         *testing.T
	net       *testnet.Network
	nodes     map[string]*testnet.Node // by domain
	bridges   map[string]*runningBridge
	passwords map[string][]byte
	accounts  string
}

var pairUsers = []string{"alice@a.test", "bob@b.test"}

// startPair starts the pair; providerLog, if not nil, gives each
// provider's logger.
func startPair(t *testing.T, providerLog func(domain string) *slog.Logger) *pair {
	t.Helper()
	n, err := testnet.New(filepath.Join(t.TempDir(), "providers"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	p := &pair{t: t, net: n, nodes: map[string]*testnet.Node{}, bridges: map[string]*runningBridge{},
		passwords: map[string][]byte{}, accounts: t.TempDir()}
	for _, address := range pairUsers {
		domain := signet.DomainOf(address)
		node, err := n.AddProvider(domain)
		if err != nil {
			t.Fatal(err)
		}
		log := quietLog()
		if providerLog != nil {
			log = providerLog(domain)
		}
		if err := node.Start(func(c *provider.Config) { c.Logger = log }); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(node.Stop)
		p.nodes[domain] = node
		if p.passwords[address], err = createDemoAccount(context.Background(), node, n.DNS.Addr, address, p.dir(address)); err != nil {
			t.Fatal(err)
		}
	}
	for _, address := range pairUsers {
		p.start(address)
	}
	t.Cleanup(func() {
		for _, rb := range p.bridges {
			rb.close()
		}
	})
	return p
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// dir is the account directory of address.
func (p *pair) dir(address string) string { return filepath.Join(p.accounts, address) }

// start starts address's bridge, or restarts it.
func (p *pair) start(address string) {
	p.t.Helper()
	p.stop(address)
	rb, err := startBridge(context.Background(), p.dir(address), p.passwords[address], p.net.Resolver(), "127.0.0.1:0", "127.0.0.1:0", nil, quietLog())
	if err != nil {
		p.t.Fatal(err)
	}
	p.bridges[address] = rb
}

// send submits a short message from one pair user's bridge to another.
func (p *pair) send(from, to, subject string) {
	p.t.Helper()
	msg := "From: <" + from + ">\r\nTo: <" + to + ">\r\nSubject: " + subject + "\r\n\r\nhello\r\n"
	if err := p.bridges[from].b.Submit(context.Background(), []string{to}, []byte(msg)); err != nil {
		p.t.Fatal(err)
	}
}

// stop stops address's bridge, if it runs.
func (p *pair) stop(address string) {
	p.t.Helper()
	if rb := p.bridges[address]; rb != nil {
		if err := rb.close(); err != nil {
			p.t.Fatal(err)
		}
		delete(p.bridges, address)
	}
}
