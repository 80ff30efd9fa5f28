// Package mailcorpus generates mail for search tests and benchmarks:
// realistic prose in the charsets, transfer encodings and MIME shapes
// real mail has, reproducible from a seed.
package mailcorpus

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"mime"
	"mime/quotedprintable"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
)

// Message is message i of a generated mail corpus for search tests
// and benchmarks: realistic prose of about size bytes, in the shapes and
// encodings real mail has, chosen by i so that a corpus has each: plain
// text in UTF-8, ISO-8859-1, windows-1252, KOI8-R, ISO-2022-JP and
// Shift_JIS; quoted-printable, base64, 8bit and 7bit bodies; HTML-only
// mail; multipart/alternative; attachments with plain and RFC 2231 / RFC
// 2047 encoded names; subjects as RFC 2047 encoded words. One message in
// RareOneIn starts with a line holding one of RareWords. The same r
// state and i give the same bytes.
func Message(r *rand.Rand, i, size int) []byte {
	cs := corpusCharsets[i%len(corpusCharsets)]
	shape := (i / len(corpusCharsets)) % 4
	from := corpusPeople[r.IntN(len(corpusPeople))]
	to := corpusPeople[r.IntN(len(corpusPeople))]
	subject := cs.sentence(r, 4+r.IntN(5))
	date := time.Date(2020, 1, 1, 8, 0, 0, 0, time.FixedZone("", (r.IntN(25)-12)*3600)).Add(time.Duration(i) * 97 * time.Minute)
	id := r.Uint32()
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%d.%x@corpus.test>\r\nMIME-Version: 1.0\r\n",
		encodeAddress(from, cs), encodeAddress(to, cs), encodeWord(subject, cs), date.Format(time.RFC1123Z), i, id)
	if i%23 == 5 {
		b.WriteString("List-Id: Corpus talk <talk.lists.corpus.test>\r\n")
	}
	text := cs.paragraphs(r, size)
	if w, ok := rareWord(id); ok {
		text = w + "\n" + text
	}
	// Parts of the text end at a line's end.
	half := text[:strings.LastIndexByte(text[:len(text)/2], '\n')+1]
	most := text[:strings.LastIndexByte(text[:len(text)*3/4], '\n')+1]
	switch shape {
	case 0: // one text part
		writePart(&b, "text/plain", cs, text)
	case 1: // HTML only
		writePart(&b, "text/html", cs, toHTML(text))
	case 2: // alternative
		b.WriteString("Content-Type: multipart/alternative; boundary=\"alt-b\"\r\n\r\n--alt-b\r\n")
		writePart(&b, "text/plain", cs, half)
		b.WriteString("--alt-b\r\n")
		writePart(&b, "text/html", cs, toHTML(half))
		b.WriteString("--alt-b--\r\n")
	case 3: // text and an attachment
		b.WriteString("Content-Type: multipart/mixed; boundary=\"mix-b\"\r\n\r\n--mix-b\r\n")
		writePart(&b, "text/plain", cs, most)
		name := fmt.Sprintf("%s-%s-%d.pdf", Words[r.IntN(len(Words))], cs.word(r), i)
		disp := mime.FormatMediaType("attachment", map[string]string{"filename": name}) // RFC 2231 when not ASCII
		if i%2 == 0 && cs.enc != nil {
			disp = "attachment; filename=\"" + mime.BEncoding.Encode("UTF-8", name) + "\"" // RFC 2047, as mailers write it
		}
		fmt.Fprintf(&b, "--mix-b\r\nContent-Type: application/pdf\r\nContent-Disposition: %s\r\nContent-Transfer-Encoding: base64\r\n\r\n", disp)
		blob := make([]byte, len(text)/4)
		for j := range blob {
			blob[j] = byte(r.Uint32())
		}
		writeLines(&b, base64.StdEncoding.EncodeToString(blob))
		b.WriteString("--mix-b--\r\n")
	}
	return b.Bytes()
}

// corpusCharset is a charset of the corpus and words that need it.
type corpusCharset struct {
	name  string
	enc   encoding.Encoding // nil for UTF-8
	cte   string            // Content-Transfer-Encoding of its bodies
	words []string
}

var corpusCharsets = []corpusCharset{
	{"utf-8", nil, "quoted-printable", strings.Fields("naïve café Zürich 東京 привет Ελλάδα emoji🙂 smørrebrød")},
	{"iso-8859-1", charmap.ISO8859_1, "quoted-printable", strings.Fields("café Müller naïve garçon Ångström façade Øresund")},
	{"windows-1252", charmap.Windows1252, "8bit", strings.Fields("€uro “quoted” naïve déjà œuvre Œdipus Šibenik")},
	{"koi8-r", charmap.KOI8R, "base64", strings.Fields("привет документ Москва отчёт встреча погода")},
	{"iso-2022-jp", japanese.ISO2022JP, "7bit", strings.Fields("東京 会議 資料 予定 確認")},
	{"shift_jis", japanese.ShiftJIS, "base64", strings.Fields("大阪 報告 会社 電車 週末")},
	{"us-ascii", nil, "7bit", nil},
}

// Words are common English words, with a few rare ones that make
// selective queries.
var Words = strings.Fields(`the of and to in is was for that with as on by at from his her they this which are had
not but have were be an or one all their there been has more when who will would no so can if what its about into
than them only other new some could time these two may then do first any my now such like our over man me even most
made after also did many before must through back years where much your way well down should because each just those
people how too little state good very make world still own see men work long get here between both life being under
never day same another know while last might us great old year off come since against go came right used take three
report meeting budget quarterly schedule project invoice deadline review proposal contract agenda summary
database backup server network release holiday conference travel dinner weekend garden kitchen library
xylophone quixotic zephyr juxtapose`)

// RareWords are in few messages: one message in RareOneIn, chosen by
// the seed, starts its text with a line holding one of them, so that a
// corpus of n messages has each in about n/(RareOneIn·len(RareWords)).
// Searching one measures a word whose trigrams select few candidates,
// where Words measure words in nearly every message. None of them is
// written anywhere else in a message.
var RareWords = strings.Fields(`marzipan kerfuffle palimpsest syzygy quokka zeitgeist brouhaha ombudsman
flummox gobbledygook lollygag skedaddle bumfuzzle cattywampus snollygoster widdershins`)

// RareOneIn: one message in this many holds a rare word.
const RareOneIn = 256

// rareWord is the rare word of the message whose Message-ID holds id,
// if it has one. The choice reuses the Message-ID's random number, so
// that the other messages keep the bytes they had before rare words
// existed: the random stream, and with it every other word, is the same.
func rareWord(id uint32) (string, bool) {
	if id%RareOneIn != 0 {
		return "", false
	}
	return RareWords[int(id/RareOneIn)%len(RareWords)], true
}

// AbsentWords are in no message of the corpus: searching one measures a
// query that finds nothing.
var AbsentWords = strings.Fields(`aardvark pumpernickel hullabaloo xenolith quagmire walrus lighthouse
marmalade cobblestone dandelion`)

var corpusPeople = []struct{ name, addr string }{
	{"Alice Martin", "alice@a.test"}, {"Bob Stone", "bob@b.test"}, {"Jürgen Weiß", "juergen@de.test"},
	{"Иван Петров", "ivan@ru.test"}, {"山田 太郎", "yamada@jp.test"}, {"Chloé Dubois", "chloe@fr.test"},
	{"", "noreply@lists.corpus.test"},
}

// word is one word: mostly English, one in twelve of the charset's own.
func (cs corpusCharset) word(r *rand.Rand) string {
	if len(cs.words) > 0 && r.IntN(12) == 0 {
		return cs.words[r.IntN(len(cs.words))]
	}
	return Words[r.IntN(len(Words))]
}

func (cs corpusCharset) sentence(r *rand.Rand, n int) string {
	w := make([]string, n)
	for j := range w {
		w[j] = cs.word(r)
	}
	s := strings.Join(w, " ")
	_, n1 := utf8.DecodeRuneInString(s)
	return strings.ToUpper(s[:n1]) + s[n1:]
}

// paragraphs is prose of about size bytes, lines under 76 characters in
// paragraphs separated by blank lines.
func (cs corpusCharset) paragraphs(r *rand.Rand, size int) string {
	var b strings.Builder
	line := 0
	for b.Len() < size {
		w := cs.word(r)
		if line+len(w) > 70 {
			b.WriteString("\n")
			if r.IntN(6) == 0 {
				b.WriteString("\n")
			}
			line = 0
		} else if line > 0 {
			b.WriteString(" ")
		}
		b.WriteString(w)
		line += len(w) + 1
	}
	return b.String() + "\n"
}

// toHTML marks text up as mail clients do: paragraphs, some words bold,
// entities for markup characters.
func toHTML(text string) string {
	var b strings.Builder
	b.WriteString("<html><head><style>p { margin: 0 }</style></head><body>\n")
	for _, p := range strings.Split(text, "\n\n") {
		p = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(p)
		b.WriteString("<p>" + strings.ReplaceAll(p, "\n", "<br>\n") + "</p>\n")
	}
	b.WriteString("</body></html>\n")
	return b.String()
}

// writePart writes a part's header fields and body in cs.
func writePart(b *bytes.Buffer, typ string, cs corpusCharset, text string) {
	text = strings.ReplaceAll(text, "\n", "\r\n")
	raw := []byte(text)
	if cs.enc != nil {
		raw, _ = cs.enc.NewEncoder().Bytes(raw) // every word is in the charset
	}
	fmt.Fprintf(b, "Content-Type: %s; charset=%s\r\nContent-Transfer-Encoding: %s\r\n\r\n", typ, cs.name, cs.cte)
	switch cs.cte {
	case "quoted-printable":
		w := quotedprintable.NewWriter(b)
		w.Write(raw)
		w.Close()
		b.WriteString("\r\n")
	case "base64":
		writeLines(b, base64.StdEncoding.EncodeToString(raw))
	default:
		b.Write(raw) // ends with a line break, as the text does
	}
}

func writeLines(b *bytes.Buffer, s string) {
	for len(s) > 0 {
		n := min(76, len(s))
		b.WriteString(s[:n] + "\r\n")
		s = s[n:]
	}
}

// encodeWord writes s as RFC 2047 encoded words in cs (Q for the Latin
// charsets, B for the others) when it is not ASCII.
func encodeWord(s string, cs corpusCharset) string {
	ascii := true
	for _, c := range []byte(s) {
		ascii = ascii && c < 0x80
	}
	if ascii {
		return s
	}
	if cs.enc == nil {
		return mime.QEncoding.Encode("UTF-8", s)
	}
	raw, err := cs.enc.NewEncoder().String(s)
	if err != nil {
		return mime.BEncoding.Encode("UTF-8", s) // a name the charset cannot write
	}
	if cs.cte == "quoted-printable" || cs.cte == "8bit" {
		return qWord(cs.name, raw)
	}
	return "=?" + cs.name + "?B?" + base64.StdEncoding.EncodeToString([]byte(raw)) + "?="
}

// qWord is one Q-encoded word of raw bytes in charset (RFC 2047 §4.2).
func qWord(charset, raw string) string {
	var b strings.Builder
	b.WriteString("=?" + charset + "?Q?")
	for _, c := range []byte(raw) {
		switch {
		case c == ' ':
			b.WriteByte('_')
		case c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "=%02X", c)
		}
	}
	return b.String() + "?="
}

func encodeAddress(p struct{ name, addr string }, cs corpusCharset) string {
	if p.name == "" {
		return p.addr
	}
	return encodeWord(p.name, cs) + " <" + p.addr + ">"
}
