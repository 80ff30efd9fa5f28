package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"umbra/bridge/mailstore"
	"umbra/mailcorpus"
	"umbra/searchquery"
	"umbra/testnet"
)

// `umbra bench search`: the search index against notmuch on one Maildir.

func init() {
	register(verb{words: "bench search", synopsis: "[--dir DIR] [--n N] [--queries N] [--no-notmuch]", run: runBenchSearch,
		help: `measure search: Umbra's encrypted store against notmuch, same Maildir

In a scratch directory under --dir (removed afterwards): generates a
Maildir of N messages, the bench mix (35% 4 KB, 62% 50 KB, 3% 500 KB;
English prose with words in six charsets, quoted-printable, base64, HTML,
attachments: mailcorpus). Imports it into a new encrypted mailstore
(Adiantum, as the bridge's) in batches (mailstore.Batch), measuring
messages per second and the index's size against the mail's. Then times
--queries queries of each kind, newest 50 hits: one word, three words, a
substring from inside a word, a rare word (each in about one message in
4,096: mailcorpus.RareWords) and a word in no message. Then, in the same
run, notmuch new on the same Maildir (its own NOTMUCH_CONFIG) and notmuch
search --limit=50 with the same queries; notmuch has no substring search,
so the substring kind is its closest form, a prefix wildcard ("quarterl*"
where Umbra searches "uarterl"). notmuch runs as a process per query: its
times include a process start, which the table shows apart. Progress goes
to stderr.`})
}

func runBenchSearch(c *cmd) error {
	dir := c.flags.String("dir", os.TempDir(), "directory on the disk to measure (a scratch directory is made and removed inside it)")
	n := c.flags.Int("n", 20000, "messages in the Maildir")
	nq := c.flags.Int("queries", 50, "queries of each kind")
	noNotmuch := c.flags.Bool("no-notmuch", false, "measure Umbra only")
	if _, err := c.parse(0, 0); err != nil {
		return err
	}
	if *n < 1 || *nq < 1 {
		return usageErrorf("--n and --queries must be at least 1")
	}
	notmuch := ""
	if !*noNotmuch {
		var err error
		if notmuch, err = exec.LookPath("notmuch"); err != nil {
			return fmt.Errorf("notmuch is not installed (Debian: apt install notmuch), or use --no-notmuch: %w", err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	scratch, err := os.MkdirTemp(*dir, "umbra-bench-search-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	start := time.Now()
	printMachine(c.stdout, "search", scratch, start)
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(c.stdout, "load      %s (at the start: 1, 5, 15 min)\n", strings.Join(strings.Fields(string(load))[:min(3, len(strings.Fields(string(load))))], " "))

	b := &benchSearch{log: c.stderr, scratch: scratch, maildir: filepath.Join(scratch, "Maildir")}
	if err := b.generate(*n); err != nil {
		return err
	}
	b.queries = benchQueries(*nq)
	if err := b.umbra(ctx); err != nil {
		return err
	}
	if notmuch != "" {
		if err := b.notmuch(ctx, notmuch); err != nil {
			return err
		}
	}
	b.print(c.stdout, *n, time.Since(start))
	return nil
}

// benchSearch is one run of umbra bench search.
type benchSearch struct {
	log              io.Writer
	scratch, maildir string
	files            []string
	mailBytes        int64
	queries          [len(queryKinds)][]benchQuery
	umbraRes, nmRes  searchResult
	nmStart          time.Duration // a notmuch process that finds nothing
}

// benchQuery is one query in Umbra's language and notmuch's.
type benchQuery struct{ umbra, notmuch string }

// searchResult is what one engine measured.
type searchResult struct {
	index      testnet.Rate
	indexBytes int64
	lat        [len(queryKinds)]testnet.Rate
	hits       [len(queryKinds)]int // total hits of each kind, for a sanity check
}

// queryKinds: the common words of mailcorpus.Words are each in about 95%
// of the messages, so a rare word (whose trigrams select a few
// candidates, the index's other path) and an absent one are kinds apart.
var queryKinds = [...]string{"1 word", "3 words", "substring", "rare word", "absent word"}

// benchQueries draws nq queries of each kind from the corpus's words.
func benchQueries(nq int) [len(queryKinds)][]benchQuery {
	r := mrand.New(mrand.NewPCG(2026, 14))
	word := func() string { return mailcorpus.Words[r.IntN(len(mailcorpus.Words))] }
	// The rare and absent words from a stream of their own: the other
	// kinds keep the queries of earlier runs.
	r2 := mrand.New(mrand.NewPCG(2026, 15))
	var q [len(queryKinds)][]benchQuery
	for range nq {
		// notmuch's words quoted: "not", "and" and "or" are its operators.
		w := word()
		q[0] = append(q[0], benchQuery{w, `"` + w + `"`})
		three := []string{word(), word(), word()}
		q[1] = append(q[1], benchQuery{strings.Join(three, " "), `"` + strings.Join(three, `" AND "`) + `"`})
		long := word()
		for len(long) < 7 {
			long = word()
		}
		// Inside the word for Umbra; notmuch's closest: the word's prefix.
		q[2] = append(q[2], benchQuery{long[1 : len(long)-1], long[:len(long)-1] + "*"})
		rare := mailcorpus.RareWords[r2.IntN(len(mailcorpus.RareWords))]
		q[3] = append(q[3], benchQuery{rare, `"` + rare + `"`})
		absent := mailcorpus.AbsentWords[r2.IntN(len(mailcorpus.AbsentWords))]
		q[4] = append(q[4], benchQuery{absent, `"` + absent + `"`})
	}
	return q
}

func (b *benchSearch) say(format string, args ...any) {
	fmt.Fprintf(b.log, "bench: "+format+"\n", args...)
}

// generate writes the Maildir (cur/, each message seen).
func (b *benchSearch) generate(n int) error {
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(b.maildir, d), 0o700); err != nil {
			return err
		}
	}
	r := mrand.New(mrand.NewPCG(14, 2026))
	t0 := time.Now()
	for i := range n {
		msg := mailcorpus.Message(r, i, testnet.MixSize(i))
		name := filepath.Join(b.maildir, "cur", fmt.Sprintf("%d.%06d.bench:2,S", 1700000000+i, i))
		if err := os.WriteFile(name, msg, 0o600); err != nil {
			return err
		}
		b.files = append(b.files, name)
		b.mailBytes += int64(len(msg))
		if (i+1)%5000 == 0 {
			b.say("generated %d of %d messages", i+1, n)
		}
	}
	b.say("Maildir: %d messages, %.0f MB, in %s", n, float64(b.mailBytes)/1e6, time.Since(t0).Round(time.Second))
	return nil
}

// Umbra's import: batches of up to this many messages or bytes, one
// transaction each, as the sync engine commits.
const (
	benchBatch      = 500
	benchBatchBytes = 32 << 20
)

func (b *benchSearch) umbra(ctx context.Context) error {
	key := make([]byte, 32)
	rand.Read(key)
	st, err := mailstore.Open(filepath.Join(b.scratch, "mail.db"), key)
	if err != nil {
		return err
	}
	defer st.Close()
	b.say("umbra: importing")
	t0 := time.Now()
	var batch mailstore.Batch
	var lat []time.Duration
	for i, name := range b.files {
		m0 := time.Now()
		msg, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		if err := batch.Add(mailstore.NewMessage{Key: fmt.Sprint("bench-", i), Mailbox: mailstore.Inbox, Flags: []string{`\Seen`}, MIME: msg}, mailstore.Remote); err != nil {
			return err
		}
		if batch.Adds() >= benchBatch || batch.Size() >= benchBatchBytes || i == len(b.files)-1 {
			if err := st.Commit(ctx, &batch); err != nil {
				return err
			}
			b.say("umbra: %d of %d messages, %.0f msgs/s", i+1, len(b.files), float64(i+1)/time.Since(t0).Seconds())
		}
		lat = append(lat, time.Since(m0))
	}
	b.umbraRes.index = testnet.NewRate(lat, time.Since(t0), b.mailBytes, benchBatch)
	sizes, err := st.Sizes(ctx)
	if err != nil {
		return err
	}
	b.umbraRes.indexBytes = sizes.Index
	for k, qs := range b.queries {
		var lat []time.Duration
		for _, q := range qs {
			node, err := searchquery.Parse(q.umbra)
			if err != nil {
				return err
			}
			q0 := time.Now()
			hits, err := st.Query(ctx, node, mailstore.QueryOptions{Limit: 50})
			if err != nil {
				return err
			}
			lat = append(lat, time.Since(q0))
			b.umbraRes.hits[k] += len(hits)
		}
		b.umbraRes.lat[k] = testnet.NewRate(lat, 0, 0, 0)
		b.say("umbra: %s queries: p50 %s", queryKinds[k], ms(b.umbraRes.lat[k].P50))
	}
	return nil
}

func (b *benchSearch) notmuch(ctx context.Context, bin string) error {
	home := filepath.Join(b.scratch, "notmuch")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	config := filepath.Join(home, "config")
	// A configuration of its own; tags on new mail none, so that search
	// excludes nothing; maildir flags left alone.
	conf := fmt.Sprintf("[database]\npath=%s\n\n[user]\nname=Bench\nprimary_email=bench@example.org\n\n[new]\ntags=\nignore=\n\n[search]\nexclude_tags=\n\n[maildir]\nsynchronize_flags=false\n", b.maildir)
	if err := os.WriteFile(config, []byte(conf), 0o600); err != nil {
		return err
	}
	run := func(args ...string) (string, time.Duration, error) {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), "NOTMUCH_CONFIG="+config, "HOME="+home)
		t0 := time.Now()
		out, err := cmd.Output()
		d := time.Since(t0)
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				err = fmt.Errorf("notmuch %s: %w: %s", strings.Join(args, " "), err, ee.Stderr)
			}
		}
		return string(out), d, err
	}
	b.say("notmuch: notmuch new")
	_, d, err := run("new", "--quiet")
	if err != nil {
		return err
	}
	b.nmRes.index = testnet.NewRate([]time.Duration{d / time.Duration(len(b.files))}, d, b.mailBytes, 0)
	b.nmRes.index.N = len(b.files)
	b.say("notmuch: indexed in %s, %.0f msgs/s", d.Round(time.Second), b.nmRes.index.PerSecond())
	b.nmRes.indexBytes, err = dirSize(filepath.Join(b.maildir, ".notmuch"))
	if err != nil {
		return err
	}
	var starts []time.Duration
	for range 10 {
		_, d, err := run("search", "--limit=50", "id:no-such-message@bench")
		if err != nil {
			return err
		}
		starts = append(starts, d)
	}
	b.nmStart = testnet.NewRate(starts, 0, 0, 0).P50
	for k, qs := range b.queries {
		var lat []time.Duration
		for _, q := range qs {
			out, d, err := run("search", "--limit=50", "--output=messages", q.notmuch)
			if err != nil {
				return err
			}
			lat = append(lat, d)
			b.nmRes.hits[k] += strings.Count(out, "\n")
		}
		b.nmRes.lat[k] = testnet.NewRate(lat, 0, 0, 0)
		b.say("notmuch: %s queries: p50 %s", queryKinds[k], ms(b.nmRes.lat[k].P50))
	}
	return nil
}

// dirSize is the bytes of the files under dir.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	return n, err
}

func (b *benchSearch) print(w io.Writer, n int, took time.Duration) {
	fmt.Fprintf(w, "mail      %d messages, %.1f MB (35%% 4 KB, 62%% 50 KB, 3%% 500 KB)\n\n", n, float64(b.mailBytes)/1e6)
	u, m := b.umbraRes, b.nmRes
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\tUmbra\tnotmuch\tnotmuch ÷ Umbra")
	ratio := func(nm, um float64) string {
		if !(nm > 0 && um > 0) { // notmuch not run (--no-notmuch): NaN or 0
			return "-"
		}
		return fmt.Sprintf("%.2f×", nm/um)
	}
	var nmRate, nmMB float64
	if m.index.N > 0 {
		nmRate, nmMB = m.index.PerSecond(), m.index.MBPerSecond()
	}
	fmt.Fprintf(tw, "import+index msgs/s\t%.0f\t%.0f\t%s\n", u.index.PerSecond(), nmRate, ratio(u.index.PerSecond(), nmRate))
	fmt.Fprintf(tw, "import+index MB/s\t%.1f\t%.1f\t\n", u.index.MBPerSecond(), nmMB)
	fmt.Fprintf(tw, "index size ÷ mail size\t%.2f\t%.2f\t%s\n", float64(u.indexBytes)/float64(b.mailBytes), float64(m.indexBytes)/float64(b.mailBytes), ratio(float64(m.indexBytes), float64(u.indexBytes)))
	for k, kind := range queryKinds {
		fmt.Fprintf(tw, "%s p50\t%s\t%s\t%s\n", kind, ms(u.lat[k].P50), ms(m.lat[k].P50), ratio(float64(m.lat[k].P50), float64(u.lat[k].P50)))
		fmt.Fprintf(tw, "%s p99\t%s\t%s\t%s\n", kind, ms(u.lat[k].P99), ms(m.lat[k].P99), ratio(float64(m.lat[k].P99), float64(u.lat[k].P99)))
	}
	tw.Flush()
	fmt.Fprintf(w, "\nQueries: %d of each kind, the newest 50 hits; hits found in all: Umbra %v, notmuch %v.\n", len(b.queries[0]), u.hits, m.hits)
	fmt.Fprintf(w, "notmuch is a process per query; one that finds nothing takes %s (p50), in its times above.\n", ms(b.nmStart))
	fmt.Fprintln(w, "Substring: Umbra finds the text inside words (\"uarterl\"); notmuch cannot, and runs a prefix wildcard (\"quarterl*\").")
	fmt.Fprintf(w, "Rare word: one of mailcorpus.RareWords, each in about one message in %d; absent word: in no message.\n", mailcorpus.RareOneIn*len(mailcorpus.RareWords))
	fmt.Fprintf(w, "Umbra's index: trigram segments and the decoded text; notmuch's: its Xapian database. Run took %s.\n", took.Round(time.Second))
}
