package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"umbra/bridge/imapd"
	"umbra/bridge/mailstore"
	"umbra/bridge/syncdoc"
	"umbra/mboxio"
	"umbra/vault"
)

// Import limits: a batch commits (one transaction, one fsync) after this
// many messages or bytes, whichever comes first, so memory holds at most
// one batch whatever the size of the import.
const (
	importBatchMessages = 200
	importBatchBytes    = 8 << 20
)

// Import is an `umbra import`: messages from an mbox file or a Maildir
// stored as a mail client's APPEND stores them (a fresh key, pending for
// the sync engine to push encrypted to the provider and the account's
// other devices), skipping those whose bytes the folder already holds.
// Progress commits with each batch, so an Import of the same source and
// folder after an interruption goes on where the last commit left off.
type Import struct {
	Format string // "mbox" or "maildir"
	Path   string
	// Folder receives the messages (created if missing); "" is INBOX. The
	// subfolders of a Maildir++ keep their names, under Folder if given.
	Folder string
	// Progress, if not nil, is called after each commit.
	Progress func(ImportProgress)
	// Skip, if not nil, is called for each malformed message with where
	// it is in the source and why it was not imported.
	Skip func(where, reason string)
}

// ImportProgress counts what an Import has done, a resumed one's earlier
// runs included.
type ImportProgress struct {
	Imported, Duplicates, Malformed int
	// Bytes are the message bytes read; Done of Total the part of the
	// source handled: bytes of an mbox, messages of a Maildir.
	Bytes, Done, Total int64
	// Resumed: this run went on from an interrupted one.
	Resumed bool
}

// importState is what an Import commits with each batch.
type importState struct {
	Counts ImportProgress
	Offset int64  // mbox: where the next message begins
	Folder int    // Maildir: the index of the folder under way
	Entry  int    // Maildir: messages of it done
	Last   string // Maildir: the last file done, checked on resuming
	Done   bool
}

// importer is one Import's run.
type importer struct {
	imp   Import
	store *mailstore.Store
	name  string // the state's name
	st    importState
	batch mailstore.Batch
	dups  int // duplicates found by the batch's commit
	added int // messages queued in the batch
}

// RunImport runs imp on the store of the account in dir. It works while
// the bridge runs: the bridge notices the new messages (watchOthers).
func RunImport(ctx context.Context, dir string, keys *vault.Keys, imp Import) (ImportProgress, error) {
	if imp.Format != "mbox" && imp.Format != "maildir" {
		return ImportProgress{}, fmt.Errorf("import: unknown format %q (mbox or maildir)", imp.Format)
	}
	abs, err := filepath.Abs(imp.Path)
	if err != nil {
		return ImportProgress{}, fmt.Errorf("import: %w", err)
	}
	imp.Path = abs
	store, err := openStore(dir, keys)
	if err != nil {
		return ImportProgress{}, err
	}
	defer store.Close()
	im := &importer{imp: imp, store: store, name: "import " + imp.Format + " " + abs + " > " + imp.Folder}
	if err := im.load(ctx); err != nil {
		return ImportProgress{}, err
	}
	if imp.Progress != nil {
		imp.Progress(im.st.Counts) // where a resumed run starts
	}
	if imp.Format == "mbox" {
		err = im.mbox(ctx)
	} else {
		err = im.maildir(ctx)
	}
	if err != nil {
		return im.st.Counts, err
	}
	im.st.Done = true
	if err := im.commit(ctx); err != nil {
		return im.st.Counts, err
	}
	return im.st.Counts, nil
}

// load reads the state of an interrupted run of the same import; a
// finished one starts over (its messages are then duplicates).
func (im *importer) load(ctx context.Context) error {
	raw, err := im.store.GetState(ctx, im.name)
	if errors.Is(err, mailstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	var st importState
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("import: progress of the last run: %w", err)
	}
	if !st.Done {
		im.st = st
		im.st.Counts.Resumed = true
	}
	return nil
}

// add queues one message, or reports it malformed.
func (im *importer) add(ctx context.Context, where string, raw []byte, flags []string, date time.Time, folder string) error {
	im.st.Counts.Bytes += int64(len(raw))
	if reason := malformed(raw); reason != "" {
		im.skip(where, reason)
		return nil
	}
	mime := imapd.Stamped(func(m []byte) []byte { return stamp(m, verdictAppended) }, raw)
	err := im.batch.AddUnique(mailstore.NewMessage{
		Key: syncdoc.NewKey(), Mailbox: folder, Flags: flags, InternalDate: date, MIME: mime,
	}, mailstore.Local, func() { im.dups++ })
	if err != nil {
		im.skip(where, err.Error())
		return nil
	}
	im.added++
	if im.batch.Adds() >= importBatchMessages || im.batch.Size() >= importBatchBytes {
		return im.commit(ctx)
	}
	return nil
}

func (im *importer) skip(where, reason string) {
	im.st.Counts.Malformed++
	if im.imp.Skip != nil {
		im.imp.Skip(where, reason)
	}
}

// malformed says why raw is not a message to import, or "".
func malformed(raw []byte) string {
	if len(bytes.TrimSpace(raw)) == 0 {
		return "empty message"
	}
	line, _, _ := bytes.Cut(raw, []byte("\r\n"))
	name, _, ok := bytes.Cut(line, []byte(":"))
	if !ok || len(name) == 0 || bytes.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return fmt.Sprintf("does not begin with a header field (first line %.40q)", line)
	}
	return ""
}

// commit commits the batch with the progress it brings the import to.
func (im *importer) commit(ctx context.Context) error {
	before := im.st
	im.batch.SetState(im.name, func() []byte {
		im.st.Counts.Imported += im.added - im.dups
		im.st.Counts.Duplicates += im.dups
		raw, _ := json.Marshal(im.st) // plain data: cannot fail
		return raw
	})
	err := im.store.Commit(ctx, &im.batch)
	im.added, im.dups = 0, 0
	if err != nil {
		im.st = before
		return fmt.Errorf("import: %w", err)
	}
	if im.imp.Progress != nil {
		im.imp.Progress(im.st.Counts)
	}
	return nil
}

// ensureFolder creates folder, subscribed, unless it exists.
func (im *importer) ensureFolder(ctx context.Context, folder string) error {
	if _, err := im.store.Mailbox(ctx, folder); !errors.Is(err, mailstore.ErrNotFound) {
		return err
	}
	if _, err := im.store.CreateMailbox(ctx, folder, mailstore.Local); err != nil && !errors.Is(err, mailstore.ErrExists) {
		return fmt.Errorf("import: create folder: %w", err)
	}
	return im.store.SetSubscribed(ctx, folder, true)
}

func (im *importer) mbox(ctx context.Context) error {
	folder := orDefault(im.imp.Folder, mailstore.Inbox)
	if err := im.ensureFolder(ctx, folder); err != nil {
		return err
	}
	f, err := os.Open(im.imp.Path)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	im.st.Counts.Total = fi.Size()
	// A resumed run checks that a message still begins where the last
	// one stopped; else the file changed, and the import starts over
	// (the messages done already then count as duplicates).
	if head := make([]byte, 5); im.st.Offset > 0 && im.st.Offset != fi.Size() {
		if _, err := f.ReadAt(head, im.st.Offset); err != nil || !bytes.Equal(head, []byte("From ")) {
			im.st = importState{Counts: ImportProgress{Resumed: true, Total: fi.Size()}}
		}
	}
	if _, err := f.Seek(im.st.Offset, io.SeekStart); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	base := im.st.Offset
	r := mboxio.NewMboxReader(f, mboxio.MboxRD, MaxMessage)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		at := base + r.Offset()
		m, err := r.Next()
		if err == io.EOF {
			break
		}
		where := fmt.Sprintf("message at byte %d", at)
		if errors.Is(err, mboxio.ErrTooLarge) {
			im.skip(where, err.Error())
			continue
		}
		if err != nil {
			return fmt.Errorf("import: %s: %w", im.imp.Path, err)
		}
		im.st.Offset = base + r.Offset()
		im.st.Counts.Done = im.st.Offset
		if err := im.add(ctx, where+" (From "+m.From+")", m.Data, mboxFlags(m.Data), mboxDate(m.From, m.Data), folder); err != nil {
			return err
		}
	}
	im.st.Offset = base + r.Offset()
	im.st.Counts.Done = im.st.Offset
	return nil
}

// orDefault returns s, or def if s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// mboxFlags reads the flags mail readers keep in an mbox message's
// Status and X-Status fields (as mutt and Thunderbird write them).
func mboxFlags(data []byte) []string {
	var flags []string
	header, _, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	for line := range strings.Lines(string(header)) {
		name, value, ok := strings.Cut(strings.TrimRight(line, "\r\n"), ":")
		if !ok {
			continue
		}
		var letters map[rune]string
		switch strings.ToLower(name) {
		case "status":
			letters = map[rune]string{'R': `\Seen`}
		case "x-status":
			letters = map[rune]string{'A': `\Answered`, 'F': `\Flagged`, 'T': `\Draft`, 'D': `\Deleted`}
		}
		for _, c := range strings.TrimSpace(value) {
			if f, ok := letters[c]; ok && !slices.Contains(flags, f) {
				flags = append(flags, f)
			}
		}
	}
	return flags
}

// mboxDate is a message's internal date: the separator line's date (the
// delivery's, RFC 4155 appendix A), else its Date field, else zero (now).
func mboxDate(from string, data []byte) time.Time {
	if _, date, ok := strings.Cut(from, " "); ok {
		if t, err := time.Parse(time.ANSIC, strings.TrimSpace(date)); err == nil {
			return t
		}
	}
	if m, err := mail.ReadMessage(bytes.NewReader(data)); err == nil {
		if t, err := m.Header.Date(); err == nil {
			return t
		}
	}
	return time.Time{}
}

// maildirLetters maps Maildir flag letters to IMAP flags (maildir(5);
// P, passed, is the $Forwarded keyword of RFC 5788).
var maildirLetters = map[byte]string{'D': `\Draft`, 'F': `\Flagged`, 'P': "$Forwarded", 'R': `\Answered`, 'S': `\Seen`, 'T': `\Deleted`}

// maildirFolder is one Maildir of a Maildir++ tree and where it goes.
type maildirFolder struct{ dir, folder string }

// maildirFolders lists the Maildir at path, if it is one, and its
// Maildir++ subfolders (".A.B" is the folder "A/B"; "%2E" in a name is
// a "." of the folder's name, as export writes it), in name order.
func maildirFolders(path, under string) ([]maildirFolder, error) {
	var out []maildirFolder
	if isMaildir(path) {
		out = append(out, maildirFolder{path, orDefault(under, mailstore.Inbox)})
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() || len(name) < 2 || name[0] != '.' || name == ".." || !isMaildir(filepath.Join(path, name)) {
			continue
		}
		parts := strings.Split(name[1:], ".")
		for i, p := range parts {
			parts[i] = strings.ReplaceAll(p, "%2E", ".")
		}
		folder := strings.Join(parts, "/")
		if under != "" {
			folder = under + "/" + folder
		}
		out = append(out, maildirFolder{filepath.Join(path, name), folder})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("import: %s is not a Maildir (no cur or new) and has no Maildir++ folders", path)
	}
	return out, nil
}

func isMaildir(dir string) bool {
	for _, sub := range []string{"cur", "new"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err == nil && fi.IsDir() {
			return true
		}
	}
	return false
}

func (im *importer) maildir(ctx context.Context) error {
	folders, err := maildirFolders(im.imp.Path, im.imp.Folder)
	if err != nil {
		return err
	}
	lists := make([][]mboxio.MaildirEntry, len(folders))
	var total int64
	for i, f := range folders {
		if lists[i], err = mboxio.ReadMaildir(f.dir); err != nil {
			return fmt.Errorf("import: %w", err)
		}
		total += int64(len(lists[i]))
	}
	im.st.Counts.Total = total
	// A resumed run checks that the Maildir still lists the file it
	// last did at the same place; else it starts over, and the messages
	// done already count as duplicates.
	if im.st.Folder < len(lists) && im.st.Entry > 0 {
		if l := lists[im.st.Folder]; im.st.Entry > len(l) || l[im.st.Entry-1].Path != im.st.Last {
			im.st = importState{Counts: ImportProgress{Resumed: true}}
		}
	}
	for i := im.st.Folder; i < len(folders); i++ {
		if err := im.ensureFolder(ctx, folders[i].folder); err != nil {
			return err
		}
		if i > im.st.Folder {
			im.st.Folder, im.st.Entry = i, 0
		}
		for j := im.st.Entry; j < len(lists[i]); j++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			e := lists[i][j]
			im.st.Entry, im.st.Last = j+1, e.Path
			im.st.Counts.Done++
			data, err := e.ReadMessage(MaxMessage)
			if err != nil {
				im.skip(e.Path, err.Error())
				continue
			}
			var date time.Time
			if fi, err := os.Stat(e.Path); err == nil {
				date = fi.ModTime()
			}
			var flags []string
			for _, c := range []byte(e.Flags) {
				if f, ok := maildirLetters[c]; ok {
					flags = append(flags, f)
				}
			}
			if err := im.add(ctx, e.Path, data, flags, date, folders[i].folder); err != nil {
				return err
			}
		}
		lists[i] = nil
	}
	im.st.Folder = len(folders)
	return nil
}

// OpenStore opens the local store of the account in dir, as the bridge
// does (benchmarks and tests look into it; it works while the bridge
// runs).
func OpenStore(dir string, keys *vault.Keys) (*mailstore.Store, error) { return openStore(dir, keys) }
