package testnet

import (
	"context"
	"crypto/ed25519"
	"fmt"

	"umbra/dmap"
	"umbra/signet"
)

// Device is a user's device that talks DMAP to its provider: the user's
// keys, the device key and a client logged in with it.
type Device struct {
	User   *User
	Key    ed25519.PrivateKey // the device key
	Client *dmap.Client
	// Invite and Request are what registered the account, for tests
	// that try them again.
	Invite  string
	Request *signet.User
}

// RegisterDevice creates address at nd the way a device does over DMAP:
// the operator's invitation (through nd's in-process provider), keys made
// locally, registration at dmapURL (nd.DMAP if empty: another node or a
// balancer may serve the domain), then login. The caller closes
// Device.Client.
func RegisterDevice(ctx context.Context, nd *Node, dmapURL, address string) (*Device, error) {
	if nd.Provider == nil {
		return nil, fmt.Errorf("testnet: %s is not running in-process", nd.Domain)
	}
	if dmapURL == "" {
		dmapURL = nd.DMAP
	}
	code, err := nd.Provider.AddUser(ctx, address)
	if err != nil {
		return nil, err
	}
	u, req, err := newKeys(address, nd.Provider.Org().Signet)
	if err != nil {
		return nil, err
	}
	_, deviceKey, _ := ed25519.GenerateKey(nil)
	cl, err := nd.DMAPClient(dmapURL)
	if err != nil {
		return nil, err
	}
	if u.Signet, _, err = cl.Register(ctx, dmap.RegisterParams{Address: address, Invite: code, Mode: dmap.ModeParanoid,
		Request: req, DeviceKey: deviceKey.Public().(ed25519.PublicKey), DeviceName: "laptop"}); err != nil {
		cl.Close()
		return nil, fmt.Errorf("testnet: register %s: %w", address, err)
	}
	if err := cl.Login(ctx, address, deviceKey); err != nil {
		cl.Close()
		return nil, fmt.Errorf("testnet: log in %s: %w", address, err)
	}
	return &Device{User: u, Key: deviceKey, Client: cl, Invite: code, Request: req}, nil
}

// DMAPClient is a DMAP client of dmapURL, a node of nd's domain (or a
// balancer in front of its nodes), pinned to nd's certificate.
func (nd *Node) DMAPClient(dmapURL string) (*dmap.Client, error) {
	return dmap.NewClient(dmapURL, dmap.ClientTLSConfig(nd.Record.TLSPin, "127.0.0.1"))
}
