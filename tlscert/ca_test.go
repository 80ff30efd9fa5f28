package tlscert

import (
	"bytes"
	"crypto/x509"
	"errors"
	"testing"
	"time"
)

var loopback = []string{"localhost", "127.0.0.1", "::1"}

// TestCA: the CA carries the RFC 5280 constraints, and what it issues
// verifies for each of its hosts and for no other name.
func TestCA(t *testing.T) {
	t.Parallel()
	ca, err := NewCA("test CA", loopback, 30)
	if err != nil {
		t.Fatal(err)
	}
	c := ca.Leaf
	if !c.IsCA || !c.BasicConstraintsValid || c.MaxPathLen != 0 || !c.MaxPathLenZero || c.KeyUsage != x509.KeyUsageCertSign {
		t.Errorf("CA constraints: IsCA %v, pathlen %d (zero %v), key usage %v", c.IsCA, c.MaxPathLen, c.MaxPathLenZero, c.KeyUsage)
	}
	if !c.PermittedDNSDomainsCritical || len(c.PermittedDNSDomains) != 1 || c.PermittedDNSDomains[0] != "localhost" {
		t.Errorf("DNS name constraints %v (critical %v)", c.PermittedDNSDomains, c.PermittedDNSDomainsCritical)
	}
	if r := c.PermittedIPRanges; len(r) != 2 || r[0].String() != "127.0.0.1/32" || r[1].String() != "::1/128" {
		t.Errorf("IP name constraints %v", r)
	}

	leaf, err := ca.Issue(loopback, 10)
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Leaf.IsCA || !leaf.Leaf.BasicConstraintsValid || len(leaf.Leaf.ExtKeyUsage) != 1 || leaf.Leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("leaf: IsCA %v, extended key usage %v", leaf.Leaf.IsCA, leaf.Leaf.ExtKeyUsage)
	}
	for _, h := range loopback {
		if err := leaf.Verify(ca, h, time.Now()); err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}
	if err := leaf.Verify(ca, "localhost", time.Now().AddDate(0, 0, 11)); err == nil {
		t.Error("verifies after it expired")
	}
	if long, err := ca.Issue(loopback, 100); err != nil || long.Leaf.NotAfter.After(ca.Leaf.NotAfter) {
		t.Errorf("a leaf outlives its CA: %v", err)
	}

	// The name constraints bind: a certificate the CA signs for another
	// name does not verify.
	other, err := ca.Issue([]string{"example.com", "192.0.2.1"}, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"example.com", "192.0.2.1"} {
		var inv x509.CertificateInvalidError
		if err := other.Verify(ca, h, time.Now()); !errors.As(err, &inv) || inv.Reason != x509.CANotAuthorizedForThisName {
			t.Errorf("%s outside the name constraints: %v", h, err)
		}
	}

	// Not a CA: cannot issue; a CA loaded back still can.
	if _, err := leaf.Issue(loopback, 1); err == nil {
		t.Error("a leaf issued a certificate")
	}
	back, err := LoadBundle(ca.Bundle())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.CertPEM, ca.CertPEM) || !bytes.Equal(back.KeyPEM, ca.KeyPEM) {
		t.Error("the bundle did not come apart as it was put together")
	}
	if l, err := back.Issue(loopback, 1); err != nil || l.Verify(ca, "::1", time.Now()) != nil {
		t.Errorf("the loaded CA: %v", err)
	}
}
