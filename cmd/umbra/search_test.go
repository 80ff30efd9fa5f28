package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"umbra/bridge"
	"umbra/bridge/mailstore"
	"umbra/mailcorpus"
	"umbra/mailtext"
	"umbra/searchquery"
)

// searchQueries are umbra search queries on the corpus of
// TestSearchCorpus, each checked against a brute-force scan.
var searchQueries = []string{
	"привет has:attachment", "from:Jürgen OR 東京", "-has:attachment EPORT", "report", "café", "привет", "東京", "報告", "€uro", "naïve", "Ελλάδα",
	"from:Jürgen", "from:Петров", "to:山田", "subject:budget", "subject:Москва",
	"has:attachment", "has:attachment müller", ".pdf", "-has:attachment xylophone",
	"xylophone OR zephyr", `"budget report"`, "after:2020-01-04", "before:2020-01-03 report", "ab",
}

// TestSearchCorpus: a generated corpus (mailcorpus: six charsets, QP,
// base64, HTML-only mail, attachments, encoded words) appended with
// Python's imaplib to the running bridge is found by IMAP SEARCH exactly
// as a Python decode-and-scan finds it (testdata/imapsearch.py), and by
// umbra search, run beside the bridge, exactly as searchquery.Match over
// mailtext.Analyze finds it. Then tags: umbra tag refuses while the
// bridge runs, tags once it is stopped, and the keyword reaches the
// account's other device when the bridge runs again; umbra untag takes it
// off.
func TestSearchCorpus(t *testing.T) {
	t.Parallel()
	python := needProgram(t, "python3")
	d := startTestDemo(t)
	alice := d.info.Accounts[0]
	pwFile := filepath.Join(d.dir, "accounts", alice.Address+".password")
	laptop := secondDevice(t, d, alice.Address, "laptop")

	corpus := t.TempDir()
	r := rand.New(rand.NewPCG(9, 14))
	const n = 112
	var docs []*mailtext.Message
	for i := range n {
		raw := mailcorpus.Message(r, i, 400+r.IntN(3000))
		if err := os.WriteFile(filepath.Join(corpus, fmt.Sprintf("%03d.eml", i)), raw, 0o600); err != nil {
			t.Fatal(err)
		}
		a, err := mailtext.Analyze(raw, mailtext.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, a)
	}
	settings, _ := json.Marshal(map[string]string{"imap": alice.IMAP, "username": alice.Username, "password": alice.Password,
		"folder": "Corpus", "corpus": corpus})
	sf := filepath.Join(t.TempDir(), "settings.json")
	if err := os.WriteFile(sf, settings, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "testdata/imapsearch.py", sf)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("imapsearch.py: %v\n%s", err, out)
	}
	var res struct{ Messages, Queries, Hits int }
	if err := json.Unmarshal(out, &res); err != nil || res.Messages != n || res.Hits == 0 {
		t.Fatalf("imapsearch.py: %s (%v)", out, err)
	}
	t.Logf("IMAP SEARCH: %d queries on %d messages, %d hits, as the scan", res.Queries, res.Messages, res.Hits)

	account := []string{"--dir", alice.Dir, "--password-file", pwFile}
	search := func(query string) []searchHit {
		t.Helper()
		var hits []searchHit
		out := mustUmbra(t, append(append([]string{"search", "--json", "--limit", "0"}, account...), query)...)
		if err := json.Unmarshal([]byte(out), &hits); err != nil {
			t.Fatalf("umbra search %q: %v\n%s", query, err, out)
		}
		return hits
	}
	scan := func(q searchquery.Node, tags []string) []string {
		var ids []string
		for _, a := range docs {
			if searchquery.Match(q, searchquery.Doc{Msg: a, Folder: "Corpus", Tags: tags}) {
				ids = append(ids, a.MessageID)
			}
		}
		slices.Sort(ids)
		return ids
	}
	// Each umbra search opens the vault (Argon2id, slow under -race): the
	// CLI runs the first queries, bridge.Search (what it calls) the rest.
	pw, err := readSecretFile(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	_, keys, err := openAccount(alice.Dir, []byte(pw))
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Zero()
	for i, qs := range searchQueries {
		q, err := searchquery.Parse(qs)
		if err != nil {
			t.Fatal(err)
		}
		var hits []searchHit
		if i < 3 {
			hits = search("folder:Corpus (" + qs + ")")
		} else {
			found, err := bridge.Search(context.Background(), alice.Dir, keys, searchquery.And{searchquery.Term{Field: searchquery.FieldFolder, Text: "Corpus"}, q}, mailstore.QueryOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range found {
				hits = append(hits, searchHit{Date: h.Date, MessageID: h.Analysis.MessageID})
			}
		}
		var got []string
		for i, h := range hits {
			got = append(got, h.MessageID)
			if i > 0 && h.Date.After(hits[i-1].Date) {
				t.Errorf("%q: hit %d is newer than the one before", qs, i)
			}
		}
		slices.Sort(got)
		if want := scan(q, nil); !slices.Equal(got, want) || len(want) == 0 {
			t.Errorf("umbra search %q: %d hits, scan %d", qs, len(got), len(want))
		}
	}
	if code, _, errOut := umbra(t, append(append([]string{"search"}, account...), "from:(alice")...); code != 2 ||
		!strings.Contains(errOut, "bad query at character") || !strings.Contains(errOut, "from:(alice\n") {
		t.Errorf("a bad query: exit %d, %s", code, errOut)
	}
	if out := mustUmbra(t, append(append([]string{"search", "--limit", "3"}, account...), "folder:Corpus")...); strings.Count(out, "\n") != 3 {
		t.Errorf("umbra search --limit 3 printed\n%s", out)
	}

	// Tags.
	q, _ := searchquery.Parse("xylophone")
	tagged := len(scan(q, nil))
	tag := append(append([]string{"tag"}, account...), "folder:Corpus xylophone", "Umbra-Test")
	// Beside the running bridge, which takes the change (watchOthers):
	// its IMAP clients see the keyword, and it pushes it to the laptop.
	if out := mustUmbra(t, tag...); out != fmt.Sprintf("%d messages changed\n", tagged) {
		t.Errorf("umbra tag: %q, want %d changed", out, tagged)
	}
	if out := mustUmbra(t, append([]string{"tags"}, account...)...); !strings.Contains(out, fmt.Sprintf("%d  Umbra-Test\n", tagged)) {
		t.Errorf("umbra tags:\n%s", out)
	}
	if hits := search("tag:umbra-test"); len(hits) != tagged || !slices.Contains(hits[0].Tags, "Umbra-Test") {
		t.Errorf("search tag:umbra-test: %d hits", len(hits))
	}
	ic := imapSession(t, alice.IMAP, alice.Username, alice.Password)
	if _, err := ic.Select("Corpus", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	// The running bridge takes another process's writes when its watcher
	// next looks (watch.go), so a client searching right after the tag
	// may be a moment early.
	eventually(t, "IMAP SEARCH KEYWORD Umbra-Test on the running bridge", func() bool {
		kw, err := ic.UIDSearch(&imap.SearchCriteria{Flag: []imap.Flag{"Umbra-Test"}}, nil).Wait()
		return err == nil && len(kw.AllUIDs()) == tagged
	})
	tq, _ := searchquery.Parse("tag:Umbra-Test")
	eventually(t, "the tag on the laptop", func() bool {
		hits, err := laptop.b.Store().Query(context.Background(), tq, mailstore.QueryOptions{})
		return err == nil && len(hits) == tagged
	})
	untag := append(append([]string{"untag"}, account...), "tag:Umbra-Test", "umbra-test")
	if out := mustUmbra(t, untag...); out != fmt.Sprintf("%d messages changed\n", tagged) {
		t.Errorf("umbra untag: %q", out)
	}
	if out := mustUmbra(t, append([]string{"tags"}, account...)...); strings.Contains(out, "Umbra-Test") {
		t.Errorf("umbra tags after untag:\n%s", out)
	}
}
