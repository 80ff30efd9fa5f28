package dmime

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"testing"
)

var benchSizes = []struct {
	name string
	n    int
}{{"4KB", 4 << 10}, {"50KB", 50 << 10}, {"1MB", 1 << 20}}

// benchMIME returns a message of about n bytes: a text part and, past
// 4 KB, a base64 attachment (what large mail is made of).
func benchMIME(n int) []byte {
	var b strings.Builder
	b.WriteString("From: Alice <alice@a.test>\r\nTo: Bob <bob@b.test>\r\nSubject: benchmark\r\n" +
		"Date: Mon, 2 Mar 2026 10:00:00 +0000\r\nMessage-ID: <bench@a.test>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=BB\r\n\r\n--BB\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	line := "The quick brown fox jumps over the lazy dog, again and again and again.\r\n"
	for b.Len() < min(n, 3<<10) {
		b.WriteString(line)
	}
	if rest := n - b.Len() - 200; rest > 0 {
		b.WriteString("\r\n--BB\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		raw := binaryBlob(rest*3/4, 9)
		enc := base64.StdEncoding.EncodeToString(raw)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	b.WriteString("\r\n--BB--\r\n")
	return []byte(b.String())
}

func reportMsgs(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// benchVersions are the two formats; the version 2 names end in "-v2".
var benchVersions = []struct {
	suffix string
	params func(*world) SealParams
}{{"", (*world).params}, {"-v2", (*world).paramsV2}}

func BenchmarkSeal(b *testing.B) {
	w := newWorld(b)
	for _, v := range benchVersions {
		p := v.params(w)
		for _, s := range benchSizes {
			mime := benchMIME(s.n)
			b.Run(s.name+v.suffix, func(b *testing.B) {
				b.SetBytes(int64(len(mime)))
				for b.Loop() {
					if _, err := Seal(io.Discard, bytes.NewReader(mime), p); err != nil {
						b.Fatal(err)
					}
				}
				reportMsgs(b)
			})
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	w := newWorld(b)
	for _, v := range benchVersions {
		for _, s := range benchSizes {
			mime := benchMIME(s.n)
			var sealed bytes.Buffer
			if _, err := Seal(&sealed, bytes.NewReader(mime), v.params(w)); err != nil {
				b.Fatal(err)
			}
			msg := sealed.Bytes()
			opt := OpenOptions{MIME: io.Discard, AuthorKey: w.authorKeys, Recipient: w.recip.addr}
			b.Run(s.name+v.suffix, func(b *testing.B) {
				b.SetBytes(int64(len(mime)))
				for b.Loop() {
					if _, err := Open(bytes.NewReader(msg), RoleRecipient, w.recip.enc, opt); err != nil {
						b.Fatal(err)
					}
				}
				reportMsgs(b)
			})
		}
	}
}

// BenchmarkFloor measures the primitives a message cannot do without, each
// alone and summed per message: sealing costs four HPKE seals (one
// keyslot each), AES-256-GCM over the MIME bytes and one Ed25519
// signature; opening costs one HPKE open, AES-256-GCM open over the same
// bytes and one Ed25519 verification. SHA-256 over the same bytes is
// listed apart: the author's tree needs it, but it is not in the floor.
func BenchmarkFloor(b *testing.B) {
	w := newWorld(b)
	pk := w.recip.enc.PublicKey()
	keys := make([]byte, 96)
	info := keyslotInfo(typeKeyslotRecip)
	aad := make([]byte, 32)
	enc, s, err := hpke.NewSender(pk, hpke.HKDFSHA256(), hpke.AES256GCM(), info)
	if err != nil {
		b.Fatal(err)
	}
	slot, err := s.Seal(aad, keys)
	if err != nil {
		b.Fatal(err)
	}
	slot = append(enc, slot...)
	hpkeSeal := func() {
		enc, s, err := hpke.NewSender(pk, hpke.HKDFSHA256(), hpke.AES256GCM(), info)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Seal(aad, keys); err != nil {
			b.Fatal(err)
		}
		_ = enc
	}
	hpkeOpen := func() {
		r, err := hpke.NewRecipient(slot[:encLen], w.recip.enc, hpke.HKDFSHA256(), hpke.AES256GCM(), info)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Open(aad, slot[encLen:]); err != nil {
			b.Fatal(err)
		}
	}
	block, err := aes.NewCipher(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		b.Fatal(err)
	}
	nonce := make([]byte, 12)
	msg := make([]byte, 64)
	sig := ed25519.Sign(w.author.sign, msg)
	pub := w.author.pub()

	b.Run("hpke-seal", func(b *testing.B) {
		for b.Loop() {
			hpkeSeal()
		}
	})
	b.Run("hpke-open", func(b *testing.B) {
		for b.Loop() {
			hpkeOpen()
		}
	})
	b.Run("ed25519-sign", func(b *testing.B) {
		for b.Loop() {
			ed25519.Sign(w.author.sign, msg)
		}
	})
	b.Run("ed25519-verify", func(b *testing.B) {
		for b.Loop() {
			ed25519.Verify(pub, msg, sig)
		}
	})
	for _, sz := range benchSizes {
		mime := benchMIME(sz.n)
		n := len(mime)
		pt := make([]byte, n)
		ct := gcm.Seal(nil, nonce, pt, nil)
		dst := make([]byte, 0, n+tagLen)
		b.Run("aead-seal/"+sz.name, func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				gcm.Seal(dst[:0], nonce, pt, nil)
			}
		})
		b.Run("aead-open/"+sz.name, func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				if _, err := gcm.Open(dst[:0], nonce, ct, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("sha256/"+sz.name, func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				sha256.Sum256(ct)
			}
		})
		b.Run(fmt.Sprintf("seal-floor/%s", sz.name), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				for range 4 {
					hpkeSeal()
				}
				gcm.Seal(dst[:0], nonce, pt, nil)
				ed25519.Sign(w.author.sign, msg)
			}
			reportMsgs(b)
		})
		b.Run(fmt.Sprintf("open-floor/%s", sz.name), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				hpkeOpen()
				if _, err := gcm.Open(dst[:0], nonce, ct, nil); err != nil {
					b.Fatal(err)
				}
				ed25519.Verify(pub, msg, sig)
			}
			reportMsgs(b)
		})
	}
}
