package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"umbra/bridge"
	"umbra/bridge/mailstore"
	"umbra/mailtext"
	"umbra/searchquery"
	"umbra/vault"
)

// `umbra search`, `umbra tag`, `umbra untag`, `umbra tags`: the bridge's
// store searched and tagged from the command line (issue 14).

// queryHelp is the query language, for the help of the verbs that take a
// query.
const queryHelp = `The query language (searchquery):
  word "a phrase"       the text anywhere: From, To, Cc, Bcc, Subject, the
                        text of every part (HTML as text), attachment names;
                        case-insensitive substrings, as IMAP SEARCH matches:
                        "port" finds "Report"; white space matches any run
                        of white space
  from:W to:W subject:W  W in that field only (from: and to: read names and
                        addresses, "Name <addr>")
  tag:NAME              messages with that tag (IMAP keyword), ignoring case
  folder:NAME           messages in that folder (INBOX ignoring case)
  has:attachment        messages with an attachment
  after:YYYY-MM-DD      dated that day or later (the Date field's own day)
  before:YYYY-MM-DD     dated before that day
  A B                   both; A OR B: either (OR binds looser); -A: not A;
                        (A OR B) C: groups.
Quote the query for the shell; one that starts with "-" goes after "--".`

func init() {
	register(verb{words: "search", synopsis: "[--json] [--limit N] [--folder F] QUERY...", run: runSearch,
		help: `search the mail in the bridge's encrypted store

Prints the messages QUERY matches, newest first, one a line: date, folder,
sender, subject; with --json, a JSON array for scripts. Works while the
bridge runs. The words of QUERY are one query.

` + queryHelp})
	register(verb{words: "tag", synopsis: "QUERY TAG...", run: func(c *cmd) error { return runTag(c, true) },
		help: `add tags to the messages a query matches

Tags are IMAP keywords: mail clients show them (Thunderbird as tags, others
as keywords or labels), and they sync, encrypted, to the account's other
devices. A tag is an IMAP atom: ASCII letters, digits and punctuation other
than ( ) { } % * " \ ], no spaces. QUERY is one argument (quote it).
Works while the bridge runs: it tells its mail clients within a second.

` + queryHelp})
	register(verb{words: "untag", synopsis: "QUERY TAG...", run: func(c *cmd) error { return runTag(c, false) },
		help: `remove tags from the messages a query matches

As umbra tag, removing.

` + queryHelp})
	register(verb{words: "tags", run: runTags,
		help: `list the tags of the account's messages, with counts

Tags are IMAP keywords (umbra tag). Works while the bridge runs.`})
}

// parseQuery parses a query, a bad one as an error that shows where.
func parseQuery(query string) (searchquery.Node, error) {
	q, err := searchquery.Parse(query)
	var perr *searchquery.Error
	if errors.As(err, &perr) {
		col := len([]rune(query[:min(perr.Offset, len(query))]))
		return nil, usageErrorf("bad query at character %d: %s\n  %s\n  %s^", col+1, perr.Msg, query, strings.Repeat(" ", col))
	}
	return q, err
}

// searchHit is one line of umbra search --json.
type searchHit struct {
	Date      time.Time `json:"date"`
	Folder    string    `json:"folder"`
	UID       uint32    `json:"uid"`
	From      string    `json:"from"`
	Subject   string    `json:"subject"`
	MessageID string    `json:"message_id"`
	Tags      []string  `json:"tags"`
}

func runSearch(c *cmd) error {
	asJSON := c.flags.Bool("json", false, "print a JSON array of hits")
	limit := c.flags.Int("limit", 50, "print at most `N` messages, the newest (0: all)")
	folder := c.flags.String("folder", "", "search only `FOLDER`")
	return accountVerb(c, 1, -1, nil, func(ctx context.Context, dir string, keys *vault.Keys, args []string) error {
		if *limit < 0 {
			return usageErrorf("--limit must be 0 or more")
		}
		q, err := parseQuery(strings.Join(args, " "))
		if err != nil {
			return err
		}
		hits, err := bridge.Search(ctx, dir, keys, q, mailstore.QueryOptions{Folder: *folder, Limit: *limit})
		if err != nil {
			return err
		}
		out := make([]searchHit, len(hits))
		for i, h := range hits {
			out[i] = searchHit{Date: h.Date, Folder: h.Mailbox, UID: h.UID, From: sender(h.Analysis),
				Subject: h.Analysis.Subject, MessageID: h.Analysis.MessageID, Tags: h.Tags()}
		}
		if *asJSON {
			e := json.NewEncoder(c.stdout)
			e.SetIndent("", "  ")
			return e.Encode(out)
		}
		w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
		for _, h := range out {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", h.Date.Local().Format("2006-01-02 15:04"), oneLine(h.Folder, 30), oneLine(h.From, 40), oneLine(h.Subject, 200))
		}
		return w.Flush()
	})
}

// sender is the first From address as "Name <addr>", or the address alone.
func sender(m *mailtext.Message) string {
	if len(m.From) == 0 {
		return ""
	}
	if a := m.From[0]; a.Name != "" {
		return a.Name + " <" + a.Addr + ">"
	}
	return m.From[0].Addr
}

// oneLine makes s fit one column of a line: control characters (a tab,
// a line break, a terminal escape) as spaces, at most n characters.
func oneLine(s string, n int) string {
	r := []rune(strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s))
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return string(r)
}

func runTag(c *cmd, add bool) error {
	return accountVerb(c, 2, -1, nil, func(ctx context.Context, dir string, keys *vault.Keys, args []string) error {
		q, err := parseQuery(args[0])
		if err != nil {
			return err
		}
		tags := args[1:]
		for _, t := range tags {
			if strings.HasPrefix(t, `\`) {
				return usageErrorf("tag %q: a tag is a keyword; \\Seen, \\Flagged and the other system flags are not tags", t)
			}
		}
		var n int
		if add {
			n, err = bridge.Tag(ctx, dir, keys, q, tags, nil)
		} else {
			n, err = bridge.Tag(ctx, dir, keys, q, nil, tags)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%d messages changed\n", n)
		return nil
	})
}

func runTags(c *cmd) error {
	return accountVerb(c, 0, 0, nil, func(ctx context.Context, dir string, keys *vault.Keys, _ []string) error {
		tags, err := bridge.Tags(ctx, dir, keys)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		for _, t := range tags {
			fmt.Fprintf(w, "%d\t%s\t\n", t.Messages, t.Tag)
		}
		return w.Flush()
	})
}
