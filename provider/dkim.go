package provider

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/emersion/go-msgauth/dkim"

	"umbra/atomicfile"
)

// The DKIM keys of the legacy relay (docs/spec/legacy.md §3.2): PKCS #8
// PEM files in the provider's directory, and the selectors they are
// published under. Every relayed message carries two signatures, Ed25519
// (RFC 8463) and RSA (RFC 6376), since many receivers still check only
// RSA.
const (
	DKIMEd25519File     = "dkim-ed25519.key"
	DKIMRSAFile         = "dkim-rsa.key"
	DKIMEd25519Selector = "umbra-ed25519"
	DKIMRSASelector     = "umbra-rsa"
)

// DKIMRecord is one DNS record to publish for DKIM.
type DKIMRecord struct {
	Name string // "<selector>._domainkey.<domain>."
	TXT  string
}

// Strings splits the record's text into character-strings of at most
// 255 bytes (RFC 1035 §3.3.14; an RSA key does not fit in one), which a
// verifier joins again (RFC 6376 §3.6.2.2).
func (r DKIMRecord) Strings() []string {
	var out []string
	for s := r.TXT; len(s) > 0; {
		n := min(len(s), 255)
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

// dkimKey is one signing key with its selector.
type dkimKey struct {
	selector string
	signer   crypto.Signer
}

// CreateDKIM generates the relay's DKIM keys in dir, refusing to
// overwrite either, and returns the records to publish for domain.
func CreateDKIM(dir, domain string) ([]DKIMRecord, error) {
	for _, n := range []string{DKIMEd25519File, DKIMRSAFile} {
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			return nil, fmt.Errorf("provider: %s already exists; refusing to overwrite a DKIM key", filepath.Join(dir, n))
		}
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	for _, k := range []struct {
		file string
		key  crypto.Signer
	}{{DKIMEd25519File, ed}, {DKIMRSAFile, rk}} {
		der, err := x509.MarshalPKCS8PrivateKey(k.key)
		if err != nil {
			return nil, err
		}
		if err := atomicfile.Create(filepath.Join(dir, k.file), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
			return nil, err
		}
	}
	return dkimRecords(domain, []dkimKey{{DKIMEd25519Selector, ed}, {DKIMRSASelector, rk}})
}

// dkimRecords are the TXT records (RFC 6376 §3.6.1) of keys.
func dkimRecords(domain string, keys []dkimKey) ([]DKIMRecord, error) {
	var out []DKIMRecord
	for _, k := range keys {
		var txt string
		switch pub := k.signer.Public().(type) {
		case ed25519.PublicKey:
			txt = "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
		case *rsa.PublicKey:
			der, err := x509.MarshalPKIXPublicKey(pub)
			if err != nil {
				return nil, err
			}
			txt = "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
		}
		out = append(out, DKIMRecord{Name: k.selector + "._domainkey." + domain + ".", TXT: txt})
	}
	return out, nil
}

// loadDKIM reads the keys CreateDKIM wrote; none if neither file exists
// (a provider made before the relay existed signs nothing and says so).
func loadDKIM(dir string) ([]dkimKey, error) {
	var keys []dkimKey
	for _, k := range []struct{ file, selector string }{{DKIMEd25519File, DKIMEd25519Selector}, {DKIMRSAFile, DKIMRSASelector}} {
		b, err := os.ReadFile(filepath.Join(dir, k.file))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("provider: %s: not a PEM private key", k.file)
		}
		key, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("provider: %s: %w", k.file, err)
		}
		s, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("provider: %s: not a signing key", k.file)
		}
		keys = append(keys, dkimKey{k.selector, s})
	}
	return keys, nil
}

// dkimHeaders are the fields signed: those RFC 6376 §5.4.1 recommends
// that a relayed message carries.
var dkimHeaders = []string{"From", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Reply-To", "Autocrypt"}

// dkimSign returns msg with one DKIM-Signature field per key prepended.
func (p *Provider) dkimSign(msg []byte) ([]byte, error) {
	out := msg
	for _, k := range p.dkim {
		var b bytes.Buffer
		b.Grow(len(out) + 1024)
		err := dkim.Sign(&b, bytes.NewReader(out), &dkim.SignOptions{
			Domain: p.domain, Selector: k.selector, Signer: k.signer,
			HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
			HeaderKeys: dkimHeaders,
		})
		if err != nil {
			return nil, fmt.Errorf("provider: DKIM signature (%s): %w", k.selector, err)
		}
		out = b.Bytes()
	}
	return out, nil
}
