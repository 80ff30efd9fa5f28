package testnet

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"umbra/provider"
)

// AddNode makes another node of domain's provider, as an operator adds a
// machine: a copy of the first node's files (organisation keys, TLS
// certificate, DKIM keys) in a directory of its own, with ports of its
// own, the node name node and the settings in extra (such as db, for a
// shared PostgreSQL store). It neither starts the node (Start, or a child
// process; the caller stops it) nor publishes it: the domain's DNS record
// still names the first node.
func (n *Network) AddNode(domain, node string, extra map[string]string) (*Node, error) {
	first := n.Node(domain)
	if first == nil {
		return nil, fmt.Errorf("testnet: no provider for %s", domain)
	}
	dir := filepath.Join(n.Dir, domain+"-"+node)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(first.Dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || e.Name() == provider.ConfigFile {
			continue // the store's directory, and the configuration made below
		}
		data, err := os.ReadFile(filepath.Join(first.Dir, e.Name()))
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, e.Name()), data, 0o600)
		}
		if err != nil {
			return nil, fmt.Errorf("testnet: copy %s: %w", e.Name(), err)
		}
	}
	var addrs [3]string
	for i := range addrs {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		addrs[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	}
	values := map[string]string{
		"dmtp_listen": addrs[0], "dmap_listen": addrs[1], "mx_listen": addrs[2], "metrics_listen": "off",
		"dns": n.DNS.Addr, "node": node,
	}
	for k, v := range extra {
		values[k] = v
	}
	if err := provider.WriteConfig(dir, values); err != nil {
		return nil, err
	}
	return &Node{Domain: domain, Dir: dir, DMTP: addrs[0], DMAP: "https://" + addrs[1] + "/dmap/v1/", MX: addrs[2],
		DKIM: first.DKIM, Record: first.Record, net: n}, nil
}
