package mailtext

import (
	"encoding/base64"
	"fmt"
	"mime/quotedprintable"
	"strings"
	"testing"
)

// benchMessages are the sizes of issue 14's import mix: 4 KB plain text,
// 50 KB quoted-printable HTML, and 500 KB with a base64 attachment.
func benchMessages() map[string][]byte {
	para := "Grüße aus Köln: the quarterly numbers are attached, see https://example.com/report for details. "
	plain := "From: Alice <alice@example.org>\r\nTo: bob@example.com\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nDate: Mon, 7 Dec 2026 11:00:00 +0000\r\nMessage-ID: <1@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		strings.Repeat(para+"\r\n", 4000/len(para))
	var qp strings.Builder
	w := quotedprintable.NewWriter(&qp)
	fmt.Fprint(w, "<html><head><style>p{}</style></head><body>")
	for qp.Len() < 50000 {
		fmt.Fprintf(w, "<p>%s<a href=\"https://example.com/x\">link</a></p>\n", para)
	}
	w.Close()
	html := "From: news@example.com\r\nSubject: News\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qp.String()
	att := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("\x00\x01binary", 450000/8)))
	var wrapped strings.Builder
	for len(att) > 76 {
		wrapped.WriteString(att[:76] + "\r\n")
		att = att[76:]
	}
	large := "From: a@example.org\r\nSubject: big\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n" +
		strings.Repeat(para+"\r\n", 20) + "--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=report.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		wrapped.String() + att + "\r\n--b--\r\n"
	return map[string][]byte{"4KB-plain": []byte(plain), "50KB-html": []byte(html), "500KB-attachment": []byte(large)}
}

// BenchmarkAnalyze measures analysis throughput (MB/s) per message kind,
// tokens included.
func BenchmarkAnalyze(b *testing.B) {
	for name, raw := range benchMessages() {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				m, err := Analyze(raw, Limits{})
				if err != nil {
					b.Fatal(err)
				}
				m.Tokens()
			}
		})
	}
}
