package provider

import (
	"crypto/ed25519"
	"crypto/hpke"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"umbra/dnsrec"
	"umbra/keyfile"
	"umbra/keylog"
	"umbra/signet"
)

// Names of the organisation files in a provider's directory.
const (
	POKFile = "pok.key"
	SOKFile = "sok.key"
	// MTASTSCacheFile keeps the MTA-STS policies the relay learnt
	// (RFC 8461 §5.1), across restarts.
	MTASTSCacheFile = "mta-sts.json"
	EncFile         = "enc.key"
	SignetFile      = "org.signet"
)

// OrgOptions describe a new organisation.
type OrgOptions struct {
	Domain  string
	DMTP    string // host:port published as the DMTP endpoint
	DMAP    string // https URL, optional
	TLSPin  []byte // SPKI SHA-256 of the server certificate, optional
	Days    int    // validity of the organisation signet
	Policy  dnsrec.Policy
	ExpDays int // how long senders cache the dark policy
}

// CreateOrg generates an organisation's keys (POK, one SOK allowed to sign
// signets, messages and TLS, the organisation encryption key), signs its
// organisation signet with the POK and writes all four into dir, refusing
// to overwrite any existing file. It returns the signet and the _dime
// record to publish.
func CreateOrg(dir string, o OrgOptions) (*signet.Org, *dnsrec.Record, error) {
	if err := signet.CheckDomain(o.Domain); err != nil {
		return nil, nil, err
	}
	if o.Days < 1 || o.Days > 3650 {
		return nil, nil, fmt.Errorf("provider: organisation signet validity %d days, must be 1 to 3650", o.Days)
	}
	for _, n := range []string{POKFile, SOKFile, EncFile, SignetFile, LogKeyFile} {
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			return nil, nil, fmt.Errorf("provider: %s already exists; refusing to overwrite organisation keys", filepath.Join(dir, n))
		}
	}
	_, pok, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, nil, err
	}
	_, sok, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, nil, err
	}
	enc, err := signet.KEM().GenerateKey()
	if err != nil {
		return nil, nil, err
	}
	// The log key signs checkpoints only (docs/spec/keylog.md §3.2); the
	// organisation signet names it, so that a checkpoint is only ever
	// checked against the key its POK vouched for.
	_, logKey, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, nil, err
	}
	logVerifier, err := keylog.VerifierKey(o.Domain, logKey.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, nil, err
	}
	start := time.Now().UTC().Truncate(time.Second)
	org, err := signet.NewOrg(signet.OrgFields{
		POK:       pok.Public().(ed25519.PublicKey),
		SOKs:      []signet.SOK{{Key: sok.Public().(ed25519.PublicKey), Perms: signet.PermSignSignets | signet.PermSignMessages | signet.PermTLS}},
		Enc:       enc.PublicKey(),
		Domain:    o.Domain,
		DMTP:      o.DMTP,
		DMAP:      o.DMAP,
		TLSPin:    o.TLSPin,
		LogKey:    logVerifier,
		NotBefore: start,
		NotAfter:  start.AddDate(0, 0, o.Days),
	}, pok)
	if err != nil {
		return nil, nil, err
	}
	rec := &dnsrec.Record{
		Version:     1,
		POKs:        []ed25519.PublicKey{org.POK},
		SOKs:        []ed25519.PublicKey{org.SOKs[0].Key},
		DX:          o.DMTP,
		DMAP:        o.DMAP,
		TLSPin:      o.TLSPin,
		Fingerprint: org.Fingerprint(),
		Policy:      o.Policy,
		ExpDays:     o.ExpDays,
	}
	// Parse what would be published, so a bad value fails here and not at
	// every sender.
	if _, err := dnsrec.Parse(rec.TXT()); err != nil {
		return nil, nil, fmt.Errorf("provider: the DNS record would be invalid: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	h := func(role string) map[string]string { return map[string]string{"Domain": o.Domain, "Role": role} }
	if err := keyfile.WriteSigning(filepath.Join(dir, POKFile), pok, h("POK: signs the organisation signet only; keep offline")); err != nil {
		return nil, nil, err
	}
	if err := keyfile.WriteSigning(filepath.Join(dir, SOKFile), sok, h("SOK: signets, messages, tls")); err != nil {
		return nil, nil, err
	}
	if err := keyfile.WriteEncryption(filepath.Join(dir, EncFile), enc, h("organisation encryption key")); err != nil {
		return nil, nil, err
	}
	if err := writeLogKey(filepath.Join(dir, LogKeyFile), o.Domain, logKey); err != nil {
		return nil, nil, err
	}
	if err := keyfile.WriteSignet(filepath.Join(dir, SignetFile), org.Bytes(), map[string]string{"Fingerprint": org.Fingerprint().String()}); err != nil {
		return nil, nil, err
	}
	return org, rec, nil
}

// OrgKeys are what a running provider needs of its organisation: the
// signet, the online SOK and the encryption key. The POK may be offline.
type OrgKeys struct {
	Signet *signet.Org
	SOK    ed25519.PrivateKey
	Enc    hpke.PrivateKey
}

// LoadOrg reads the organisation signet, SOK and encryption key from dir
// and checks they belong together.
func LoadOrg(dir string) (*OrgKeys, error) {
	raw, err := keyfile.ReadSignet(filepath.Join(dir, SignetFile))
	if err != nil {
		return nil, err
	}
	org, err := signet.ParseOrg(raw)
	if err != nil {
		return nil, fmt.Errorf("provider: %s: %w", SignetFile, err)
	}
	sok, err := keyfile.ReadSigning(filepath.Join(dir, SOKFile))
	if err != nil {
		return nil, err
	}
	enc, err := keyfile.ReadEncryption(filepath.Join(dir, EncFile))
	if err != nil {
		return nil, err
	}
	pub := sok.Public().(ed25519.PublicKey)
	if !org.MaySign(pub, signet.PermSignSignets) || !org.MaySign(pub, signet.PermSignMessages) {
		return nil, fmt.Errorf("provider: %s is not a SOK of %s allowed to sign signets and messages", SOKFile, org.Domain)
	}
	if string(enc.PublicKey().Bytes()) != string(org.Enc.Bytes()) {
		return nil, fmt.Errorf("provider: %s does not match the encryption key in %s", EncFile, SignetFile)
	}
	return &OrgKeys{Signet: org, SOK: sok, Enc: enc}, nil
}
