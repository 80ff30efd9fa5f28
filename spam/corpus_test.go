package spam

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"mime"
	"mime/quotedprintable"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
)

// A labelled message of the generated corpus.
type sample struct {
	raw  []byte
	spam bool
	kind string
}

// corpus generates n ham and n spam messages from seed, deterministically.
// Kinds of ham: personal mail in English, German, French and Spanish,
// work mail with attachments, mailing-list posts (English, German,
// Japanese), and retail, news and bank newsletters in HTML — which share
// much of spam's vocabulary (offers, discounts, "log in to your
// account"). Kinds of spam: phishing under a bank's or a service's name,
// pharmacy ads with obfuscated names, advance-fee fraud, investment and
// SEO pitches, Russian spam in KOI8-R, and short "hi, look at this" spam
// that reads like personal mail; a third of the spam carries innocent
// sentences to poison the statistics, and some ham (sign-up confirmations)
// asks to click a link to verify an account. Every message draws filler sentences and
// senders from pools common to both classes, and bodies are variously
// quoted-printable, base64, HTML-only or in legacy charsets.
func corpus(seed uint64, n int) []sample {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x5bd1e995))}
	var out []sample
	for i := range 2 * n {
		spam := i%2 == 1
		var kinds []func() msg
		if spam {
			kinds = []func() msg{g.phishing, g.phishing, g.pharma, g.advanceFee, g.investment, g.russian, g.shortSpam}
		} else {
			kinds = []func() msg{g.personal, g.personal, g.work, g.list, g.list, g.newsletter, g.bankNotice, g.signup}
		}
		k := g.r.IntN(len(kinds))
		m := kinds[k]()
		if spam && g.r.IntN(3) == 0 {
			// Bayes poisoning: innocent sentences to drown the pitch.
			m.body += "\n\n" + g.some(personalEN, 1, 2) + " " + g.some(listEN, 0, 2)
		}
		out = append(out, sample{raw: g.render(m, i), spam: spam, kind: m.kind})
	}
	return out
}

// msg is a message before rendering.
type msg struct {
	kind       string
	fromName   string
	from       string
	subject    string
	listID     string
	body       string
	html       bool
	charset    string // "" for UTF-8
	attachment string // a file name, or ""
}

type gen struct{ r *rand.Rand }

func (g *gen) pick(s ...string) string { return s[g.r.IntN(len(s))] }

// some returns k to k+extra sentences from pool, joined.
func (g *gen) some(pool []string, k, extra int) string {
	n := k + g.r.IntN(extra+1)
	var b []string
	for range n {
		b = append(b, pool[g.r.IntN(len(pool))])
	}
	return strings.Join(b, " ")
}

var (
	firstNames = []string{"Alice", "Bob", "Carmen", "Dieter", "Élodie", "Farid", "Grace", "Hiroshi", "Ingrid", "José", "Katja", "Liam", "Mei", "Noah", "Olga", "Pierre"}
	freemail   = []string{"gmail.example", "yahoo.example", "outlook.example", "gmx.example", "web.example", "orange.example"}
	filler     = []string{
		"Hope you are doing well.", "Thanks again for your help.", "Let me know what you think.",
		"Please find the details below.", "I will be travelling next week.", "Have a great weekend!",
		"Sorry for the late reply.", "See you soon.", "Best regards.", "Talk to you later.",
		"The weather has been lovely here.", "It was a busy month.", "Call me if you have questions.",
		"This is a reminder.", "Please reply at your earliest convenience.", "Click the link below for more information.",
	}
	personalEN = []string{"Are we still on for dinner on Friday?", "The kids loved the museum.", "I attached the photos from the hike.",
		"Mum asked whether you could bring the salad.", "My flight lands at 6pm, could you pick me up?", "Happy birthday! Hope you have a wonderful day.",
		"We found a great little restaurant near the harbour.", "The garden is finally blooming.", "Did you finish the book I lent you?",
		"Let's go climbing on Sunday if it doesn't rain.", "Grandpa is feeling much better now."}
	personalDE = []string{"Hallo, wie geht es dir?", "Wir treffen uns am Samstag um drei Uhr im Café.", "Die Kinder freuen sich schon auf die Ferien.",
		"Kannst du mir das Rezept für den Kuchen schicken?", "Grüße aus München!", "Ich habe die Fotos vom Urlaub angehängt.", "Bis bald, und liebe Grüße an die Familie."}
	personalFR = []string{"Salut, ça va ?", "On se voit demain soir pour le dîner ?", "Les enfants ont adoré la plage.", "Je t'envoie les photos de la fête.",
		"Merci pour le cadeau, c'était très gentil.", "Bisous à toute la famille.", "Le train arrive à Lyon à dix-huit heures."}
	personalES = []string{"¡Hola! ¿Qué tal todo?", "Nos vemos el sábado en la plaza.", "Mañana es el cumpleaños de la abuela.", "Te mando las fotos del viaje.",
		"Un abrazo muy fuerte.", "La cena fue estupenda, gracias por todo."}
	workEN = []string{"The quarterly report is attached for review.", "Can we move the standup to 10:30?", "The deployment to staging finished without errors.",
		"Please review the pull request before Thursday.", "Minutes of yesterday's meeting are below.", "The client approved the budget for phase two.",
		"Invoice 2026-114 for the consulting work is attached; payment terms are 30 days.", "The build server is down for maintenance tonight.",
		"Agenda: roadmap, hiring, the office move.", "Could you update the spreadsheet with the new figures?"}
	listEN = []string{"The patch below fixes a race in the scheduler.", "I bisected the regression to commit 4f2a91c.", "Does anyone have numbers for the new allocator?",
		"> On Tue, Maria wrote:\n> the test fails on arm64", "Acked-by: Reviewer <rev@lists.example.org>", "The compiler emits a bounds check here; see the assembly.",
		"This breaks the ABI on 32-bit platforms.", "Release candidate 3 is tagged; please test.", "The documentation for the flag is out of date.",
		"Signed-off-by: Dev <dev@example.org>", "We should deprecate the old API in the next release."}
	listDE = []string{"Der Patch behebt einen Fehler im Treiber.", "Hat jemand Erfahrung mit dem neuen Kernel?", "Die Dokumentation ist leider veraltet.",
		"Ich habe das Problem auf meinem Rechner nachgestellt.", "Danke für den Hinweis, ich schaue es mir an."}
	listJA = []string{"パッチを送ります。", "このバグは次のリリースで修正されます。", "テストが失敗しました。", "ご確認をお願いします。", "ドキュメントを更新しました。"}
	retail = []string{"Our winter sale starts today: up to 50% off selected items.", "Free shipping on orders over $50.", "New arrivals in our spring collection.",
		"Members get an extra 10% discount this weekend.", "Limited time offer: buy one, get one half price.", "Your loyalty points are about to expire.",
		"Shop now and save on bestsellers.", "Don't miss our exclusive deals."}
	news = []string{"Top stories this week: elections, climate and the economy.", "Our editors picked five long reads for your weekend.",
		"The central bank kept interest rates unchanged.", "Scientists report progress on fusion energy.", "Read the full interview on our website."}
	phishing = []string{"Your account has been suspended due to unusual activity.", "Verify your identity within 24 hours to avoid permanent closure.",
		"We were unable to process your last payment.", "Confirm your billing information to restore access.", "Unusual sign-in activity detected on your account.",
		"Your mailbox is full; log in to upgrade your storage.", "Failure to verify will result in account termination.", "Click here to secure your account now."}
	pharma = []string{"Buy v1agra online without prescription!", "C-I-A-L-I-S at the lowest prices.", "Cheap meds shipped discreetly worldwide.",
		"V.I.A.G.R.A 100mg - only $0.99 per pill.", "Enhance your performance tonight.", "Our online pharmacy offers generic meds.",
		"No doctor visit needed, order now!", "Satisfaction guaranteed or your money back."}
	advanceFee = []string{"I am Barrister James Okoro, personal attorney to the late engineer.", "He left a deposit of US$15,500,000 (Fifteen Million Five Hundred Thousand Dollars).",
		"I seek your consent to present you as the next of kin.", "This transaction is 100% risk free.", "Kindly reply with your full name, phone number and bank details.",
		"Please treat this matter as strictly confidential.", "You will receive 40% of the total fund.", "May God bless you as you respond."}
	invest = []string{"Earn 300% returns in 30 days with our crypto trading bot.", "Join thousands of investors making money from home.",
		"Guaranteed passive income, no experience needed.", "We can put your website on the first page of Google.", "Affordable SEO services for your business.",
		"Limited spots available, act now!", "Double your bitcoin in 24 hours."}
	russianSpam = []string{"Только сегодня скидки до 90%!", "Заработок в интернете без вложений.", "Купите сейчас и получите подарок.", "Лучшие цены на рекламу вашего бизнеса."}
	brands      = []string{"PayPal", "Apple ID", "Microsoft 365", "Chase Bank", "Netflix", "DHL Express", "Amazon"}
	phishHosts  = []string{"secure-login-verify.example", "account-update.example.ru", "paypa1-support.example", "appleid-confirm.example.tk", "bit.example/x7Yq"}
	retailers   = []string{"shop.example.com", "outdoor-store.example", "books.example.co.uk", "fashion.example.fr"}
)

func (g *gen) person() (string, string) {
	n := g.pick(firstNames...)
	return n, strings.ToLower(strings.NewReplacer("É", "e", "é", "e").Replace(n)) + "@" + g.pick(freemail...)
}

func (g *gen) personal() msg {
	name, addr := g.person()
	m := msg{kind: "personal", fromName: name, from: addr}
	switch g.r.IntN(4) {
	case 0:
		m.subject = g.pick("Dinner on Friday", "Photos", "Re: weekend plans", "Quick question", "Happy birthday!")
		m.body = g.some(personalEN, 2, 3) + "\n\n" + g.some(filler, 1, 2) + "\n\n" + name
		m.attachment = g.pick("", "", "IMG_2041.jpg")
	case 1:
		m.subject, m.charset = g.pick("Wochenende", "Fotos vom Urlaub", "Grüße", "Re: Kuchen"), "iso-8859-1"
		m.body = g.some(personalDE, 2, 3) + "\n\n" + name
	case 2:
		m.subject, m.charset = g.pick("Salut !", "Les photos", "Dîner demain", "Re: vacances"), "iso-8859-1"
		m.body = g.some(personalFR, 2, 3) + "\n\n" + name
	default:
		m.subject = g.pick("¡Hola!", "Fotos del viaje", "Cumpleaños")
		m.body = g.some(personalES, 2, 3) + "\n\n" + name
	}
	return m
}

func (g *gen) work() msg {
	name, _ := g.person()
	return msg{kind: "work", fromName: name + " (Acme)", from: strings.ToLower(name[:1]) + ".colleague@acme.example",
		subject:    g.pick("Quarterly report", "Re: standup time", "Invoice 2026-114", "Meeting minutes", "Budget approval", "Payment reminder: invoice 2026-114"),
		body:       g.some(workEN, 2, 4) + "\n\n" + g.some(filler, 1, 2) + "\n\n-- \n" + name + "\nAcme Ltd.",
		attachment: g.pick("", "report-Q3.pdf", "invoice-2026-114.pdf", "figures.xlsx")}
}

func (g *gen) list() msg {
	name, addr := g.person()
	switch g.r.IntN(4) {
	case 0:
		return msg{kind: "list-de", fromName: name, from: addr, listID: "<debian-user-german.lists.example.org>", charset: "iso-8859-1",
			subject: "[debian-user] " + g.pick("Problem mit dem Treiber", "Re: Neuer Kernel", "Frage zur Installation"), body: g.some(listDE, 2, 3)}
	case 1:
		return msg{kind: "list-ja", fromName: "山田 太郎", from: "yamada@example.jp", listID: "<golang-jp.lists.example.org>", charset: "iso-2022-jp",
			subject: "[golang-jp] " + g.pick("テストの失敗について", "パッチ", "リリースのお知らせ"), body: g.some(listJA, 2, 3)}
	}
	return msg{kind: "list-en", fromName: name, from: addr, listID: "<" + g.pick("golang-dev", "linux-kernel", "postgres-hackers") + ".lists.example.org>",
		subject: "[PATCH v" + fmt.Sprint(1+g.r.IntN(4)) + "] " + g.pick("sched: fix race in wakeup", "runtime: reduce allocations", "docs: update flag description", "Re: regression in rc2"),
		body:    g.some(listEN, 3, 4) + "\n\n" + g.some(filler, 0, 1)}
}

func (g *gen) newsletter() msg {
	host := g.pick(retailers...)
	if g.r.IntN(3) == 0 {
		return msg{kind: "news", fromName: "The Daily Example", from: "newsletter@news.example.com", listID: "<weekly.news.example.com>", html: true,
			subject: g.pick("Your weekly briefing", "This week's top stories", "Editor's picks"),
			body:    g.some(news, 3, 2) + " " + g.pick("http", "https") + "://news.example.com/article/" + fmt.Sprint(g.r.IntN(9999)) + "\n\nUnsubscribe: https://news.example.com/unsubscribe"}
	}
	return msg{kind: "retail", fromName: strings.Split(host, ".")[0], from: "offers@" + host, listID: "<offers." + host + ">", html: true,
		subject: g.pick("Winter sale: up to 50% off", "Free shipping this weekend", "New arrivals for you", "Your points expire soon", "Exclusive deals inside"),
		body:    g.some(retail, 3, 3) + " https://" + host + "/sale\n\n" + g.some(filler, 0, 1) + "\n\nUnsubscribe: https://" + host + "/unsubscribe"}
}

func (g *gen) bankNotice() msg {
	return msg{kind: "bank", fromName: "Example Bank", from: "no-reply@notify.examplebank.com", html: g.r.IntN(2) == 0,
		subject: g.pick("Your monthly statement is available", "Payment received", "New sign-in to your account"),
		body: g.pick("Your statement for November is ready. Log in to online banking at https://www.examplebank.com to view it.",
			"We received your payment of $"+fmt.Sprint(20+g.r.IntN(900))+".00. Thank you.",
			"A new sign-in to your account was detected from Firefox on Linux. If this was you, no action is needed.") + "\n\n" + g.some(filler, 0, 1)}
}

func (g *gen) signup() msg {
	svc := g.pick("GitHub", "Mastodon", "Discourse", "Dropbox", "Zoom")
	host := strings.ToLower(svc) + ".example.com"
	return msg{kind: "signup", fromName: svc, from: "noreply@" + host, html: g.r.IntN(2) == 0,
		subject: g.pick("Please verify your email address", "Confirm your account", "Reset your password", "Welcome to "+svc),
		body: "Hi,\n\n" + g.pick("Please confirm your email address by clicking the link below.", "Someone requested a password reset for your account.",
			"Thanks for signing up! Verify your account to get started.") + "\n\n" + g.pick("http", "https") + "://" + host + "/verify?token=" + fmt.Sprintf("%x", g.r.Uint64()) +
			"\n\nIf you did not request this, ignore this email.\n\nThe " + svc + " Team"}
}

func (g *gen) phishing() msg {
	brand := g.pick(brands...)
	host := g.pick(phishHosts...)
	return msg{kind: "phishing", fromName: brand + " Support", from: g.pick("security", "no-reply", "service") + "@" + g.pick(host, g.pick(freemail...)), html: g.r.IntN(3) > 0,
		subject: g.pick("Action required: verify your account", "Your "+brand+" account has been suspended", "Unusual sign-in activity", "Payment declined", "Mailbox full"),
		body:    "Dear Customer,\n\n" + g.some(phishing, 2, 3) + "\n\nhttps://" + host + "/login?id=" + fmt.Sprint(g.r.IntN(99999)) + "\n\n" + g.some(filler, 0, 2) + "\n\n" + brand + " Security Team"}
}

func (g *gen) pharma() msg {
	return msg{kind: "pharma", fromName: g.pick("Online Pharmacy", "Dr. Smith", "Meds Store"), from: "sales" + fmt.Sprint(g.r.IntN(999)) + "@" + g.pick("rx-cheap.example.cn", "pills.example.ru", g.pick(freemail...)),
		html:    g.r.IntN(2) == 0,
		subject: g.pick("V1AGRA 80% OFF", "Re: your order", "C.i.a.l.i.s now", "Cheap meds", "Feel young again"),
		body:    g.some(pharma, 2, 3) + "\n\nhttp://" + g.pick("rx-cheap.example.cn", "pills.example.ru") + "/shop\n\n" + g.some(filler, 0, 1)}
}

func (g *gen) advanceFee() msg {
	return msg{kind: "advance-fee", fromName: g.pick("Barrister James Okoro", "Mrs. Grace Williams", "Dr. Ahmed Musa"), from: "claims" + fmt.Sprint(g.r.IntN(99)) + "@" + g.pick(freemail...),
		subject: g.pick("URGENT BUSINESS PROPOSAL", "Confidential", "Re: inheritance fund", "Dear Friend"),
		body:    "Dear Friend,\n\n" + g.some(advanceFee, 4, 3) + "\n\n" + g.some(filler, 0, 1)}
}

func (g *gen) investment() msg {
	return msg{kind: "investment", fromName: g.pick("Crypto Profits", "SEO Expert", "Wealth Team"), from: "info@" + g.pick("profit.example.biz", "seo-rank.example.in", g.pick(freemail...)), html: g.r.IntN(2) == 0,
		subject: g.pick("Make money from home", "Your website ranking", "Double your bitcoin", "Limited offer"),
		body:    g.some(invest, 2, 3) + "\n\nhttps://" + g.pick("profit.example.biz", "seo-rank.example.in") + "/join\n\n" + g.some(filler, 0, 2)}
}

func (g *gen) russian() msg {
	return msg{kind: "russian", fromName: "Реклама", from: "promo@" + g.pick("mail.example.ru", "spam.example.su"), charset: "koi8-r",
		subject: g.pick("Скидки!", "Заработок", "Выгодное предложение"), body: g.some(russianSpam, 2, 2) + "\n\nhttp://promo.example.ru"}
}

func (g *gen) shortSpam() msg {
	name, addr := g.person()
	return msg{kind: "short", fromName: name, from: addr, subject: g.pick("hi", "Re: hello", "look at this", "hey"),
		body: g.pick("Hi, how are you? Look at this:", "hey, I found this and thought of you", "Hello dear, check my photos here") + " http://" + g.pick(phishHosts...) + "\n\n" + g.pick(filler...)}
}

// render writes m as RFC 5322 with MIME, its transfer encoding and layout
// chosen at random.
func (g *gen) render(m msg, i int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s <%s>\r\n", mime.QEncoding.Encode("utf-8", m.fromName), m.from)
	fmt.Fprintf(&b, "To: %s\r\n", g.pick("me@umbra.example", "Me <me@umbra.example>", "undisclosed-recipients:;"))
	wordEnc := mime.QEncoding
	if g.r.IntN(2) == 0 {
		wordEnc = mime.BEncoding
	}
	fmt.Fprintf(&b, "Subject: %s\r\n", wordEnc.Encode("utf-8", m.subject))
	fmt.Fprintf(&b, "Date: Mon, %d Nov 2026 %02d:%02d:00 +0000\r\n", 1+i%28, i%24, i%60)
	fmt.Fprintf(&b, "Message-ID: <%d.%d@%s>\r\n", i, g.r.IntN(1e6), m.from[strings.IndexByte(m.from, '@')+1:])
	if m.listID != "" {
		fmt.Fprintf(&b, "List-Id: %s\r\n", m.listID)
	}
	b.WriteString("MIME-Version: 1.0\r\n")
	body, ctype := m.body, "text/plain"
	if m.html {
		ctype = "text/html"
		body = "<html><head><style>p{font-family:Arial}</style></head><body><p>" +
			strings.ReplaceAll(htmlEscape(body), "\n\n", "</p>\n<p>") + "</p><img src=\"https://track.example/p.gif\" width=1 height=1></body></html>"
	}
	part := g.encodePart(ctype, m.charset, body)
	if m.attachment == "" {
		b.WriteString(part)
		return []byte(b.String())
	}
	bound := fmt.Sprintf("b%08x", g.r.Uint32())
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=%s\r\n\r\n--%s\r\n%s\r\n--%s\r\n", bound, bound, part, bound)
	fmt.Fprintf(&b, "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=%q\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n--%s--\r\n",
		m.attachment, base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("%x", g.r.Uint64()))), bound)
	return []byte(b.String())
}

// encodePart returns a part's header and body: text in charset (UTF-8
// for ""), in a transfer encoding that fits it.
func (g *gen) encodePart(ctype, charset, text string) string {
	text = strings.ReplaceAll(text, "\n", "\r\n")
	cs := charset
	if cs == "" {
		cs = "utf-8"
	}
	data := []byte(text)
	if e := legacy[charset]; e != nil {
		var err error
		if data, err = e.NewEncoder().Bytes(data); err != nil {
			panic(fmt.Sprintf("corpus text not in %s: %v", charset, err))
		}
	}
	h := fmt.Sprintf("Content-Type: %s; charset=%s\r\n", ctype, cs)
	switch {
	case charset == "iso-2022-jp":
		return h + "Content-Transfer-Encoding: 7bit\r\n\r\n" + string(data)
	case g.r.IntN(3) == 0:
		return h + "Content-Transfer-Encoding: base64\r\n\r\n" + wrap(base64.StdEncoding.EncodeToString(data), 76)
	default:
		var qp strings.Builder
		w := quotedprintable.NewWriter(&qp)
		w.Write(data)
		w.Close()
		return h + "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + qp.String()
	}
}

var legacy = map[string]encoding.Encoding{
	"iso-8859-1":  charmap.ISO8859_1,
	"koi8-r":      charmap.KOI8R,
	"iso-2022-jp": japanese.ISO2022JP,
}

func wrap(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + "\r\n")
		s = s[n:]
	}
	return b.String() + s + "\r\n"
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
