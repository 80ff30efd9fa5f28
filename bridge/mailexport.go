package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"strings"

	"umbra/bridge/mailstore"
	"umbra/mboxio"
	"umbra/vault"
)

// Export is an `umbra export`: the messages of every folder, or of one,
// written out as mbox files (mboxrd, one FOLDER.mbox per folder, "/" in a
// name making directories) or as a Maildir++ tree (INBOX the top Maildir,
// the folder "A/B" the Maildir .A.B; flags in the file names). Dir must
// not exist: the export is written beside it and renamed to it once
// complete, so Dir never holds a partial export.
type Export struct {
	Format string // "mbox" or "maildir"
	Dir    string
	Folder string // "": every folder
	// Progress, if not nil, is called after every message.
	Progress func(ExportProgress)
}

// ExportProgress counts what an Export has written.
type ExportProgress struct {
	Messages, Total int // messages written, of all there are
	Bytes           int64
}

// add counts a message of size bytes written and reports it.
func (p *ExportProgress) add(size int, progress func(ExportProgress)) {
	p.Messages++
	p.Bytes += int64(size)
	if progress != nil {
		progress(*p)
	}
}

// RunExport runs exp on the store of the account in dir. It works while
// the bridge runs; what is added meanwhile may or may not be exported.
func RunExport(ctx context.Context, dir string, keys *vault.Keys, exp Export) (ExportProgress, error) {
	var p ExportProgress
	if exp.Format != "mbox" && exp.Format != "maildir" {
		return p, fmt.Errorf("export: unknown format %q (mbox or maildir)", exp.Format)
	}
	if _, err := os.Lstat(exp.Dir); err == nil {
		return p, fmt.Errorf("export: %s exists; give a new directory", exp.Dir)
	}
	store, err := openStore(dir, keys)
	if err != nil {
		return p, err
	}
	defer store.Close()
	boxes, err := store.Mailboxes(ctx)
	if err != nil {
		return p, fmt.Errorf("export: %w", err)
	}
	if exp.Folder != "" {
		mb, err := store.Mailbox(ctx, exp.Folder)
		if err != nil {
			return p, fmt.Errorf("export: %w", err)
		}
		boxes = []mailstore.Mailbox{mb}
	}
	for _, mb := range boxes {
		p.Total += int(mb.Messages)
	}
	abs, err := filepath.Abs(exp.Dir)
	if err != nil {
		return p, fmt.Errorf("export: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".partial-")
	if err != nil {
		return p, fmt.Errorf("export: %w", err)
	}
	defer os.RemoveAll(tmp) // nothing left once renamed
	for _, mb := range boxes {
		if exp.Format == "mbox" {
			err = exportMbox(ctx, store, mb, tmp, exp.Progress, &p)
		} else {
			err = exportMaildir(ctx, store, mb, tmp, exp.Progress, &p)
		}
		if err != nil {
			return p, fmt.Errorf("export: folder %s: %w", mb.Name, err)
		}
	}
	if err := syncDir(tmp); err != nil {
		return p, err
	}
	if err := os.Rename(tmp, abs); err != nil {
		return p, fmt.Errorf("export: %w", err)
	}
	return p, syncDir(filepath.Dir(abs))
}

func exportMbox(ctx context.Context, store *mailstore.Store, mb mailstore.Mailbox, tmp string, progress func(ExportProgress), p *ExportProgress) error {
	rel := filepath.FromSlash(mb.Name) + ".mbox"
	if !filepath.IsLocal(rel) {
		return fmt.Errorf("the folder's name %q cannot be a file's", mb.Name)
	}
	path := filepath.Join(tmp, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	w := mboxio.NewMboxWriter(f)
	err = store.EachMessage(ctx, mb.ID, func(m mailstore.Message, mime []byte) error {
		if err := w.Write(envelopeSender(mime), m.InternalDate, mime); err != nil {
			return err
		}
		p.add(len(mime), progress)
		return nil
	})
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// envelopeSender is the address for a message's mbox separator line: its
// Return-Path, else its From address, else none.
func envelopeSender(mime []byte) string {
	header, _, _ := bytes.Cut(mime, []byte("\r\n\r\n"))
	m, err := mail.ReadMessage(bytes.NewReader(append(header, "\r\n\r\n"...)))
	if err != nil {
		return ""
	}
	addr := strings.Trim(strings.TrimSpace(m.Header.Get("Return-Path")), "<>")
	if addr == "" {
		if a, err := mail.ParseAddress(m.Header.Get("From")); err == nil {
			addr = a.Address
		}
	}
	if strings.ContainsAny(addr, " \t\r\n") {
		return ""
	}
	return addr
}

// maildirFlagLetters maps IMAP flags to Maildir flag letters (the reverse
// of maildirLetters).
func maildirFlagLetters(flags []string) string {
	var out []byte
	for c, f := range maildirLetters {
		for _, g := range flags {
			if strings.EqualFold(f, g) {
				out = append(out, c)
			}
		}
	}
	return string(out) // DeliverMaildir sorts them
}

func exportMaildir(ctx context.Context, store *mailstore.Store, mb mailstore.Mailbox, tmp string, progress func(ExportProgress), p *ExportProgress) error {
	dir := tmp
	if mb.Name != mailstore.Inbox {
		parts := strings.Split(mb.Name, "/")
		for i, s := range parts {
			parts[i] = strings.ReplaceAll(s, ".", "%2E")
		}
		dir = filepath.Join(tmp, "."+strings.Join(parts, "."))
	}
	if err := mboxio.CreateMaildir(dir); err != nil {
		return err
	}
	return store.EachMessage(ctx, mb.ID, func(m mailstore.Message, mime []byte) error {
		path, err := mboxio.DeliverMaildir(dir, mime, maildirFlagLetters(m.Flags))
		if err != nil {
			return err
		}
		// The file's time is the message's internal date, which an
		// import takes back from it.
		if err := os.Chtimes(path, m.InternalDate, m.InternalDate); err != nil {
			return err
		}
		p.add(len(mime), progress)
		return nil
	})
}

// syncDir makes the entries of dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("export: sync %s: %w", dir, err)
	}
	return nil
}
