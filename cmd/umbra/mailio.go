package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"umbra/bridge"
	"umbra/vault"
)

func init() {
	register(verb{words: "import", synopsis: "mbox|maildir PATH [--folder F] [--dir DIR | --account ADDRESS] [--password-file FILE]", run: runImport,
		help: `import mail from an mbox file or a Maildir into the account's store

Each message is stored as a mail client's APPEND stores it: encrypted at
rest, and pushed encrypted to the provider and the account's other
devices. Messages whose bytes the folder already holds are skipped, as
are malformed ones (each named, with the reason, on stderr). The mbox
is read as mboxrd (">From " lines lose one ">"); the flags of its
Status and X-Status fields are kept, as are those of Maildir file names
(":2,FS": \Flagged \Seen). A message's date is its mbox separator
line's, or its Maildir file's time.

--folder names the folder to import into (created if missing; default
INBOX); the subfolders of a Maildir++ keep their names (under --folder
if given). The import commits in batches with its progress: run it
again after an interruption and it goes on where it stopped, neither
losing nor repeating a message. It works while the bridge runs; the
bridge picks the new messages up within a second.

Progress (count, MB/s, ETA) goes to stderr: a line redrawn on a
terminal, else a line every --progress.`})
	register(verb{words: "export", synopsis: "mbox|maildir DIR [--folder F] [--dir DIR | --account ADDRESS] [--password-file FILE]", run: runExport,
		help: `export the account's mail as mbox files or a Maildir++ tree

mbox: DIR/FOLDER.mbox for each folder (mboxrd; a "/" in a folder's name
makes a directory), separator lines with the sender and the message's
date. maildir: DIR is the Maildir of INBOX, DIR/.A.B that of the folder
A/B; messages in cur/ with their flags in the file name (new/ without
flags), file times the messages' dates. --folder exports one folder.

DIR must not exist: the export is written next to it and renamed into
place when complete. 'umbra import' of an export gives back the same
messages, byte for byte.`})
}

// mailioVerb parses the arguments of import or export, opens the
// account and runs fn with them and a progress line on stderr.
func mailioVerb(c *cmd, fn func(ctx context.Context, dir string, keys *vault.Keys, format, path, folder string, pl *progressLine) error) error {
	dir, account := bridgeDir(c)
	password := passwordFlag(c.flags, "password-file", "UMBRA_PASSWORD", "Vault password", "the vault password")
	folder := c.flags.String("folder", "", "the `FOLDER` (default: INBOX for import, every folder for export)")
	every := c.flags.Duration("progress", 2*time.Second, "how often a progress line is written when stderr is not a terminal")
	args, err := c.parse(2, 2)
	if err != nil {
		return err
	}
	if args[0] != "mbox" && args[0] != "maildir" {
		return usageErrorf("the format is mbox or maildir, not %q", args[0])
	}
	d, _, keys, err := openBridgeAccount(c, dir, account, password)
	if err != nil {
		return err
	}
	defer keys.Zero()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	pl := newProgressLine(c.stderr, *every)
	err = fn(ctx, d, keys, args[0], args[1], *folder, pl)
	pl.done()
	return err
}

func runImport(c *cmd) error {
	return mailioVerb(c, func(ctx context.Context, dir string, keys *vault.Keys, format, path, folder string, pl *progressLine) error {
		var base *bridge.ImportProgress
		p, err := bridge.RunImport(ctx, dir, keys, bridge.Import{
			Format: format, Path: path, Folder: folder,
			Progress: func(p bridge.ImportProgress) {
				if base == nil {
					base = &p
					if p.Resumed {
						pl.say("import: resuming after %d messages (%d imported, %d duplicates, %d malformed)",
							p.Imported+p.Duplicates+p.Malformed, p.Imported, p.Duplicates, p.Malformed)
					}
				}
				pl.show("import", p.Imported+p.Duplicates+p.Malformed, p.Bytes-base.Bytes, p.Done, p.Total, base.Done)
			},
			Skip: func(where, reason string) { pl.say("import: skipped %s: %s", where, reason) },
		})
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted; %d messages imported so far: the same command goes on from there", p.Imported)
		}
		if err != nil {
			return err
		}
		pl.done()
		fmt.Fprintf(c.stdout, "imported %d messages; skipped %d duplicates and %d malformed\n", p.Imported, p.Duplicates, p.Malformed)
		return nil
	})
}

func runExport(c *cmd) error {
	return mailioVerb(c, func(ctx context.Context, dir string, keys *vault.Keys, format, path, folder string, pl *progressLine) error {
		p, err := bridge.RunExport(ctx, dir, keys, bridge.Export{
			Format: format, Dir: path, Folder: folder,
			Progress: func(p bridge.ExportProgress) {
				pl.show("export", p.Messages, p.Bytes, int64(p.Messages), int64(p.Total), 0)
			},
		})
		if err != nil {
			return err
		}
		pl.done()
		fmt.Fprintf(c.stdout, "exported %d messages (%.1f MB) to %s\n", p.Messages, float64(p.Bytes)/1e6, path)
		return nil
	})
}

// progressLine writes a progress report to w: on a terminal one line,
// redrawn at most ten times a second; otherwise a line every interval.
type progressLine struct {
	w       io.Writer
	tty     bool
	every   time.Duration
	start   time.Time
	last    time.Time
	pending string // the last report not yet written
	drawn   bool   // a redrawn line is on the terminal
}

func newProgressLine(w io.Writer, every time.Duration) *progressLine {
	p := &progressLine{w: w, every: every, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty, p.every = true, 100*time.Millisecond
		}
	}
	return p
}

// show reports count messages handled and bytes read in this run, done
// of total units of the work, of which this run began at from (the ETA
// is at this run's pace).
func (p *progressLine) show(what string, count int, bytes, done, total, from int64) {
	elapsed := time.Since(p.start)
	line := fmt.Sprintf("%s: %d messages, %.1f MB, %.1f MB/s", what, count, float64(bytes)/1e6, float64(bytes)/1e6/max(elapsed.Seconds(), 1e-3))
	if total > 0 && done > from {
		eta := time.Duration(float64(elapsed) * float64(total-done) / float64(done-from)).Round(time.Second)
		line += fmt.Sprintf(", %d%%, ETA %s", 100*done/total, eta)
	}
	p.pending = line
	if time.Since(p.last) < p.every {
		return
	}
	p.write()
}

func (p *progressLine) write() {
	p.last = time.Now()
	if p.tty {
		fmt.Fprintf(p.w, "\r\x1b[K%s", p.pending)
		p.drawn = true
	} else {
		fmt.Fprintln(p.w, p.pending)
	}
	p.pending = ""
}

// say writes a message line, keeping a redrawn progress line below it.
func (p *progressLine) say(format string, args ...any) {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
	fmt.Fprintf(p.w, format+"\n", args...)
	p.drawn = false
}

// done writes the last report and ends the line.
func (p *progressLine) done() {
	if p.pending != "" {
		p.write()
	}
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
