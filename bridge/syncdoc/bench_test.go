package syncdoc

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"testing"
)

// benchSizes are typical message sizes: a short text mail, a mail with a
// small image, one with a document attached.
var benchSizes = []int{4 << 10, 50 << 10, 500 << 10}

// bareGCM is the baseline: AES-256-GCM over the same bytes with a key made
// once and a random nonce, and nothing else (no derivation, no padding).
func bareGCM(b *testing.B) cipher.AEAD {
	blk, err := aes.NewCipher(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	g, err := cipher.NewGCM(blk)
	if err != nil {
		b.Fatal(err)
	}
	return g
}

// benchContent is the plaintext of a msg document of about n bytes.
func benchContent(b *testing.B, n int) []byte {
	mime := make([]byte, n)
	rand.Read(mime)
	return mustMarshal(b, sampleContent(mime))
}

func BenchmarkSeal(b *testing.B) {
	s := testSealer(b, 7)
	g := bareGCM(b)
	for _, n := range benchSizes {
		pt := benchContent(b, n)
		b.Run(fmt.Sprintf("%dKB/syncdoc", n>>10), func(b *testing.B) {
			b.SetBytes(int64(len(pt)))
			for b.Loop() {
				if _, err := s.Seal(ContentID(testKey), KindContent, 1, pt); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("%dKB/aesgcm", n>>10), func(b *testing.B) {
			b.SetBytes(int64(len(pt)))
			nonce := make([]byte, nonceLen)
			for b.Loop() {
				rand.Read(nonce)
				g.Seal(nil, nonce, pt, nil)
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	s := testSealer(b, 7)
	g := bareGCM(b)
	for _, n := range benchSizes {
		pt := benchContent(b, n)
		sealed, err := s.Seal(ContentID(testKey), KindContent, 1, pt)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%dKB/syncdoc", n>>10), func(b *testing.B) {
			b.SetBytes(int64(len(pt)))
			for b.Loop() {
				if _, err := s.Open(ContentID(testKey), KindContent, 1, sealed); err != nil {
					b.Fatal(err)
				}
			}
		})
		nonce := make([]byte, nonceLen)
		bare := g.Seal(nil, nonce, pt, nil)
		b.Run(fmt.Sprintf("%dKB/aesgcm", n>>10), func(b *testing.B) {
			b.SetBytes(int64(len(pt)))
			for b.Loop() {
				if _, err := g.Open(nil, nonce, bare, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
