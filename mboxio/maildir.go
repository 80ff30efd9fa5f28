package mboxio

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// MaildirEntry is one message file of a Maildir.
type MaildirEntry struct {
	// Path is the file's path: DIR/cur/NAME or DIR/new/NAME.
	Path string
	// New is true for a message in new, not yet seen by a mail reader.
	New bool
	// Flags are the info's flag letters after ":2," in ASCII order: D
	// draft, F flagged, P passed, R replied, S seen, T trashed; lower-case
	// letters are keywords of the mail reader (Dovecot's).
	Flags string
}

// ReadMaildir lists the messages of the Maildir dir, those in new and in
// cur, in the order of their unique names (which begin with the delivery
// time). Files whose names begin with "." are not messages. One of new
// and cur may be missing (as some tools leave a Maildir), not both.
func ReadMaildir(dir string) ([]MaildirEntry, error) {
	var out []MaildirEntry
	missing := 0
	for _, sub := range []string{"new", "cur"} {
		names, err := readNames(filepath.Join(dir, sub))
		if errors.Is(err, fs.ErrNotExist) && missing == 0 {
			missing++
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			if strings.HasPrefix(name, ".") {
				continue
			}
			_, flags := ParseMaildirName(name)
			out = append(out, MaildirEntry{Path: filepath.Join(dir, sub, name), New: sub == "new", Flags: flags})
		}
	}
	slices.SortFunc(out, func(a, b MaildirEntry) int { return strings.Compare(filepath.Base(a.Path), filepath.Base(b.Path)) })
	return out, nil
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("mboxio: maildir: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("mboxio: maildir: list %s: %w", dir, err)
	}
	return names, nil
}

// ParseMaildirName splits a Maildir file name into its unique part and its
// flags: "1700000000.M1P2.host:2,RS" gives "1700000000.M1P2.host" and
// "RS". Flags are sorted and without duplicates; a name without a ":2,"
// info, or with an experimental ":1," one, has none.
func ParseMaildirName(name string) (unique, flags string) {
	unique, info, ok := strings.Cut(name, ":")
	if !ok || !strings.HasPrefix(info, "2,") {
		return unique, ""
	}
	var fs []byte
	for _, c := range []byte(info[2:]) {
		if ('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') && !slices.Contains(fs, c) {
			fs = append(fs, c)
		}
	}
	slices.Sort(fs)
	return unique, string(fs)
}

// ReadMessage returns the message in e's file with CRLF line ends, or an
// error wrapping ErrTooLarge if the file is over maxSize bytes.
func (e MaildirEntry) ReadMessage(maxSize int) ([]byte, error) {
	f, err := os.Open(e.Path)
	if err != nil {
		return nil, fmt.Errorf("mboxio: maildir: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(maxSize)+1))
	if err != nil {
		return nil, fmt.Errorf("mboxio: maildir: read %s: %w", e.Path, err)
	}
	if len(data) > maxSize {
		return nil, fmt.Errorf("mboxio: maildir: %s: %w: over %d bytes", e.Path, ErrTooLarge, maxSize)
	}
	return toCRLF(data), nil
}

// CreateMaildir makes dir a Maildir: it and its tmp, new and cur.
func CreateMaildir(dir string) error {
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return fmt.Errorf("mboxio: create maildir: %w", err)
		}
	}
	return nil
}

// DeliverMaildir writes data (CRLF or LF line ends; stored with LF) as a
// new message of the Maildir dir, as maildir(5) says: into tmp under a
// unique name, synced, then renamed into new, or into cur when flags (as
// in MaildirEntry) are given. It returns the message's path.
func DeliverMaildir(dir string, data []byte, flags string) (string, error) {
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", fmt.Errorf("mboxio: deliver: %w", err)
	}
	now := time.Now()
	host, _ := os.Hostname()
	// The host part may not hold "/" or ":" (maildir(5)).
	host = strings.NewReplacer("/", `\057`, ":", `\072`).Replace(host)
	unique := fmt.Sprintf("%d.M%dP%dR%s.%s", now.Unix(), now.Nanosecond()/1000, os.Getpid(), hex.EncodeToString(rnd[:]), host)
	tmp := filepath.Join(dir, "tmp", unique)
	if err := writeSynced(tmp, toLF(data)); err != nil {
		return "", err
	}
	final := filepath.Join(dir, "new", unique)
	if flags != "" {
		_, fl := ParseMaildirName(":2," + flags)
		final = filepath.Join(dir, "cur", unique+":2,"+fl)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("mboxio: deliver: %w", err)
	}
	return final, nil
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("mboxio: deliver: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("mboxio: deliver %s: %w", path, err)
	}
	return nil
}
