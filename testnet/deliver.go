package testnet

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// Deliver seals n messages from one of nd's accounts to another user and
// submits them through nd's provider, on every CPU at once, as the
// author's bridge and provider would: they land in the recipient's
// mailbox (at once for a local recipient, through the relay queue for a
// remote one). mime gives message i (BenchMIME, MailMIME).
func (nd *Node) Deliver(ctx context.Context, from *User, to *User, toNode *Node, n int, mime func(i int) []byte) error {
	if nd.Provider == nil {
		return fmt.Errorf("testnet: %s is not running in-process", nd.Domain)
	}
	return Parallel(ctx, runtime.GOMAXPROCS(0)*2, n, func(i int) error {
		msg, err := Seal(from, nd, to, toNode, mime(i))
		if err == nil {
			_, err = nd.Provider.Submit(ctx, from.Address, bytes.NewReader(msg), int64(len(msg)))
		}
		if err != nil {
			return fmt.Errorf("testnet: message %d: %w", i, err)
		}
		return nil
	})
}

// Parallel runs f(0..n-1) on workers goroutines and returns the first
// error; after one, the workers take no further i.
func Parallel(ctx context.Context, workers, n int, f func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// words is the vocabulary of MailMIME's text.
var words = strings.Fields(`the of and to in is you that it he was for on are as with his they at be this
from have or by one had not but what all were when we there can an your which their said if do will each
about how up out them then she many some so these would other into has more her two like him see time
could no make than first been its who now people my made over did down only way find use may water long
little very after words called just where most know get through back much before go good new write our
used me man too any day same right look think also around another came come work three word must because
does part even place well such here take why things help put years different away again off went old
number great tell men say small every found still between name should home big give air line set own
under read last never us left end along while might next sound below saw something thought both few those
always looked show large often together asked house world going want school important until form food keep
children feet land side without boy once animals life enough took sometimes four head above kind began
almost live page got earth need far hand high year mother light parts country father let night following
picture being study second eyes soon times story boys since white days ever paper hard near sentence
better best across during today others however sure means knew its try told young miles sun ways thing
whole hear example heard several change answer room sea against top turned learn point city play toward
five using himself usually meeting report budget project release draft review plan team thanks regards`)

// MixSize is the size of message i in the bridge benchmarks' mix (issue
// 6): 35% 4 KB, 62% 50 KB, 3% 500 KB.
func MixSize(i int) int {
	switch r := i % 100; {
	case r < 35:
		return 4 << 10
	case r < 97:
		return 50 << 10
	default:
		return 500 << 10
	}
}

// MailMIME is a realistic message of about size bytes: a text part of
// words (up to 3 KB, as most mail is short) and, for larger sizes, a
// binary attachment, base64-encoded (RFC 2045 §6.8), for the rest.
func MailMIME(i, size int) []byte {
	var text strings.Builder
	r := uint64(i)*0x9E3779B97F4A7C15 + 1
	for line := 0; text.Len() < min(size, 3<<10); line++ {
		for w := 0; w < 12; w++ {
			r ^= r << 13
			r ^= r >> 7
			r ^= r << 17
			text.WriteString(words[r%uint64(len(words))])
			text.WriteByte(' ')
		}
		text.WriteString("\r\n")
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Sender <sender@b.test>\r\nTo: Bob <bob@b.test>\r\nSubject: report %d on the project budget\r\n"+
		"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%d.mail@b.test>\r\nMIME-Version: 1.0\r\n", i, i)
	rest := size - text.Len()
	if rest < 512 {
		fmt.Fprintf(&b, "Content-Type: text/plain; charset=utf-8\r\n\r\n%s", text.String())
		return b.Bytes()
	}
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n"+
		"--b%d\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"data-%d.bin\"\r\n"+
		"Content-Transfer-Encoding: base64\r\n\r\n", i, i, text.String(), i, i)
	raw := make([]byte, rest*3/4)
	rand.Read(raw)
	enc := base64.StdEncoding.EncodeToString(raw)
	for len(enc) > 0 {
		n := min(76, len(enc))
		b.WriteString(enc[:n])
		b.WriteString("\r\n")
		enc = enc[n:]
	}
	fmt.Fprintf(&b, "--b%d--\r\n", i)
	return b.Bytes()
}
