package dmap

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"umbra/signet"
	"umbra/vault"
)

// RegisterParams is what Register sends (spec §5.1). The device made every
// key; the password never leaves it (only Backup, sealed under it, does,
// in cautious mode).
type RegisterParams struct {
	Address    string
	Invite     string
	Mode       Mode
	Request    *signet.User // the self-signed signing request
	DeviceKey  ed25519.PublicKey
	DeviceName string
	Backup     *KeyBackup // cautious mode only (NewKeyBackup)
}

// Register creates the account and returns the certified signet (parsed,
// after checking that it certifies exactly the request) and the device id.
// It does not log in.
func (c *Client) Register(ctx context.Context, p RegisterParams) (*signet.User, string, error) {
	w := registerRequest{
		Address:        p.Address,
		Invite:         p.Invite,
		Mode:           string(p.Mode),
		SigningRequest: b64.EncodeToString(p.Request.Bytes()),
		DeviceKey:      b64.EncodeToString(p.DeviceKey),
		DeviceName:     p.DeviceName,
	}
	if p.Backup != nil {
		w.KeyBackup = backupToWire(p.Backup)
	}
	var resp registerResponse
	if err := c.call(ctx, http.MethodPost, "register", w, &resp, false); err != nil {
		return nil, "", err
	}
	u, err := certified(resp.Signet, p.Request)
	return u, resp.DeviceID, err
}

// certified parses a signet answer and checks that it is req with an
// organisation signature appended; the caller verifies that signature
// against the organisation signet it trusts.
func certified(s string, req *signet.User) (*signet.User, error) {
	raw, err := fieldRange("signet", s, 1, signet.MaxSize)
	if err != nil {
		return nil, fmt.Errorf("dmap: malformed signet answer: %w", err)
	}
	u, err := signet.ParseUser(raw)
	if err != nil {
		return nil, fmt.Errorf("dmap: signet answer: %w", err)
	}
	// Certification appends the organisation signature field to the
	// request and changes nothing else but the length in the 5-byte header
	// (docs/spec/signet.md §2, §4.2).
	const header = 5
	r := req.Bytes()
	if len(raw) <= len(r) || string(raw[:2]) != string(r[:2]) || string(raw[header:len(r)]) != string(r[header:]) {
		return nil, fmt.Errorf("dmap: the provider's signet is not the requested one")
	}
	return u, nil
}

func backupToWire(kb *KeyBackup) *backupWire {
	return &backupWire{
		Vault:     b64.EncodeToString(kb.Vault),
		AccessKey: b64.EncodeToString(kb.AccessKey),
		Salt:      b64.EncodeToString(kb.Salt),
		Params:    paramsWire{Time: kb.Params.Time, MemoryKiB: kb.Params.MemoryKiB, Threads: kb.Params.Threads},
	}
}

// challenge asks for a login or enroll challenge for key.
func (c *Client) challenge(ctx context.Context, address string, purpose Purpose, key ed25519.PublicKey) ([32]byte, error) {
	var resp challengeResponse
	err := c.call(ctx, http.MethodPost, "challenge", challengeRequest{Address: address, Purpose: string(purpose), Key: b64.EncodeToString(key)}, &resp, false)
	if err != nil {
		return [32]byte{}, err
	}
	ch, err := challengeField(resp.Challenge)
	if err != nil {
		return ch, fmt.Errorf("dmap: malformed challenge answer: %w", err)
	}
	return ch, nil
}

// Login asks for a challenge, signs it with the device key (spec §4.2)
// and keeps the session's tokens.
func (c *Client) Login(ctx context.Context, address string, deviceKey ed25519.PrivateKey) error {
	pub := deviceKey.Public().(ed25519.PublicKey)
	ch, err := c.challenge(ctx, address, PurposeLogin, pub)
	if err != nil {
		return err
	}
	sig := ed25519.Sign(deviceKey, LoginMessage(ch, signet.DomainOf(address), address, pub))
	var tr tokensResponse
	err = c.call(ctx, http.MethodPost, "login", loginRequest{
		Address:   address,
		DeviceKey: b64.EncodeToString(pub),
		Challenge: b64.EncodeToString(ch[:]),
		Signature: b64.EncodeToString(sig),
	}, &tr, false)
	if err != nil {
		return err
	}
	return c.keepTokens(address, tr)
}

// Enroll adds deviceKey to the account (spec §5.2), proven by the user's
// current signing key, or with recovery set, by the account's recovery
// key. It returns the new device's id; log in with it afterwards.
func (c *Client) Enroll(ctx context.Context, address string, deviceKey ed25519.PublicKey, name string, userKey ed25519.PrivateKey, recovery bool) (string, error) {
	ch, err := c.challenge(ctx, address, PurposeEnroll, deviceKey)
	if err != nil {
		return "", err
	}
	signer := "signing"
	if recovery {
		signer = "recovery"
	}
	sig := ed25519.Sign(userKey, EnrollMessage(ch, signet.DomainOf(address), address, deviceKey))
	var resp deviceIDResponse
	err = c.call(ctx, http.MethodPost, "enroll", enrollRequest{
		Address:    address,
		DeviceKey:  b64.EncodeToString(deviceKey),
		DeviceName: name,
		Challenge:  b64.EncodeToString(ch[:]),
		Signer:     signer,
		Signature:  b64.EncodeToString(sig),
	}, &resp, false)
	return resp.DeviceID, err
}

// FetchKeyBackup gets a cautious account's sealed vault with the address
// and password alone (spec §6.3): it derives the backup access key from
// the salt and parameters the provider serves, refusing parameters below
// MinBackupParams before deriving anything, and signs the challenge.
// Open the result with vault.Unseal and the same password.
func (c *Client) FetchKeyBackup(ctx context.Context, address string, password []byte) ([]byte, error) {
	var ch backupChallengeResponse
	if err := c.call(ctx, http.MethodPost, "keybackup/challenge", backupChallengeRequest{Address: address}, &ch, false); err != nil {
		return nil, err
	}
	chal, err := challengeField(ch.Challenge)
	if err != nil {
		return nil, fmt.Errorf("dmap: malformed key backup challenge: %w", err)
	}
	salt, err := fieldRange("salt", ch.Salt, MinBackupSalt, MaxBackupSalt)
	if err != nil {
		return nil, fmt.Errorf("dmap: malformed key backup challenge: %w", err)
	}
	p := vault.Params{Time: ch.Params.Time, MemoryKiB: ch.Params.MemoryKiB, Threads: ch.Params.Threads}
	key, err := BackupAccessKey(password, address, salt, p)
	if err != nil {
		return nil, err
	}
	pub := key.Public().(ed25519.PublicKey)
	sig := ed25519.Sign(key, KeyBackupMessage(chal, signet.DomainOf(address), address, pub))
	var resp backupFetchResponse
	err = c.call(ctx, http.MethodPost, "keybackup/fetch", backupFetchRequest{
		Address:   address,
		Challenge: b64.EncodeToString(chal[:]),
		Signature: b64.EncodeToString(sig),
	}, &resp, false)
	if err != nil {
		return nil, err
	}
	sealed, err := fieldRange("vault", resp.Vault, 1, vault.MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("dmap: malformed key backup answer: %w", err)
	}
	return sealed, nil
}

// SetKeyBackup replaces the account's key backup (after a password
// change; spec §6.5).
func (c *Client) SetKeyBackup(ctx context.Context, kb *KeyBackup) error {
	return c.call(ctx, http.MethodPut, "keybackup", backupToWire(kb), nil, true)
}

// DeviceInfo is one entry of Devices.
type DeviceInfo struct {
	ID       string
	Name     string
	Created  time.Time
	LastSeen time.Time // zero if never seen
	Current  bool      // the device of this session
}

// Devices lists the account's devices (spec §5.3).
func (c *Client) Devices(ctx context.Context) ([]DeviceInfo, error) {
	var resp devicesResponse
	if err := c.call(ctx, http.MethodGet, "devices", nil, &resp, true); err != nil {
		return nil, err
	}
	out := make([]DeviceInfo, 0, len(resp.Devices))
	for _, d := range resp.Devices {
		di := DeviceInfo{ID: d.ID, Name: d.Name, Current: d.Current}
		var err error
		if di.Created, err = time.Parse(time.RFC3339, d.Created); err != nil {
			return nil, fmt.Errorf("dmap: malformed device list: %w", err)
		}
		if d.LastSeen != "" {
			if di.LastSeen, err = time.Parse(time.RFC3339, d.LastSeen); err != nil {
				return nil, fmt.Errorf("dmap: malformed device list: %w", err)
			}
		}
		out = append(out, di)
	}
	return out, nil
}

// RenameDevice names one of the account's devices.
func (c *Client) RenameDevice(ctx context.Context, id, name string) error {
	return c.call(ctx, http.MethodPatch, "devices/"+url.PathEscape(id), renameRequest{Name: name}, nil, true)
}

// RevokeDevice revokes one of the account's devices; its tokens stop
// working at once (spec §5.5). Revoking the current device logs out.
func (c *Client) RevokeDevice(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodDelete, "devices/"+url.PathEscape(id), nil, nil, true)
}

// Rotate asks the provider to certify req, which succeeds the current
// signet (spec §5.7), and returns the certified signet.
func (c *Client) Rotate(ctx context.Context, req *signet.User) (*signet.User, error) {
	var resp signetResponse
	if err := c.call(ctx, http.MethodPost, "rotate", rotateRequest{SigningRequest: b64.EncodeToString(req.Bytes())}, &resp, true); err != nil {
		return nil, err
	}
	return certified(resp.Signet, req)
}
