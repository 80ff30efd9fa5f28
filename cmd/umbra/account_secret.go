package main

import (
	"bufio"
	"bytes"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"umbra/vault"
)

// maxSecretLine bounds a typed or filed password or phrase line: a
// 24-word phrase is at most 24×9 bytes; passwords are far shorter.
const maxSecretLine = 4096

// prompter reads answers line by line from the verb's stdin and writes
// its questions to stderr, so stdout carries only results. One prompter
// serves a whole verb: its buffer may hold lines not yet asked for. It
// reads plain lines, so it works the same from a terminal, a pipe and a
// test; on a terminal, passwords are not echoed.
type prompter struct {
	in io.Reader
	r  *bufio.Reader
	w  io.Writer
}

func newPrompter(c *cmd) *prompter {
	return &prompter{in: c.stdin, r: bufio.NewReaderSize(c.stdin, maxSecretLine), w: c.stderr}
}

// askSecret is ask with the terminal's echo off.
func (p *prompter) askSecret(question string) (string, error) {
	restore, off := noEcho(p.in)
	line, err := p.ask(question)
	restore()
	if off {
		fmt.Fprintln(p.w) // the Enter that ended the line was not echoed
	}
	return line, err
}

// ask prints question and returns the next line without its line end.
func (p *prompter) ask(question string) (string, error) {
	fmt.Fprint(p.w, question)
	line, err := p.r.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return "", fmt.Errorf("answer longer than %d bytes", maxSecretLine)
	case errors.Is(err, io.EOF) && len(line) == 0:
		return "", fmt.Errorf("no answer to %q: standard input is closed", strings.TrimSpace(question))
	case err != nil && !errors.Is(err, io.EOF):
		return "", err
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

// secretSource is where one password comes from: a file flag, an
// environment variable, or a prompt.
type secretSource struct {
	file   *string
	env    string
	prompt string
}

// passwordFlag declares --password-file (or another file flag name).
func passwordFlag(fs *flag.FlagSet, name, env, prompt, what string) *secretSource {
	return &secretSource{
		file:   fs.String(name, "", fmt.Sprintf("read %s from the first line of `FILE` (else $%s, else it is asked for)", what, env)),
		env:    env,
		prompt: prompt,
	}
}

// get returns the password. A prompted new password is asked twice.
func (s *secretSource) get(p *prompter, confirm bool) ([]byte, error) {
	var pw []byte
	switch {
	case *s.file != "":
		line, err := readSecretFile(*s.file)
		if err != nil {
			return nil, err
		}
		pw = []byte(line)
	case os.Getenv(s.env) != "":
		pw = []byte(os.Getenv(s.env))
	default:
		line, err := p.askSecret(s.prompt + ": ")
		if err != nil {
			return nil, err
		}
		pw = []byte(line)
		if confirm && len(pw) > 0 {
			again, err := p.askSecret(s.prompt + " again: ")
			if err != nil {
				return nil, err
			}
			if subtle.ConstantTimeCompare(pw, []byte(again)) != 1 {
				return nil, errors.New("the two passwords differ; nothing was changed")
			}
		}
	}
	if len(pw) == 0 {
		return nil, vault.ErrEmptyPassword
	}
	return pw, nil
}

// readSecretFile returns the first line of a small file, without its line
// end (the password is the exact bytes before it, docs/spec/vault.md).
func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretLine+1))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	if len(line) > maxSecretLine {
		return "", fmt.Errorf("%s: first line longer than %d bytes", path, maxSecretLine)
	}
	return strings.TrimSuffix(string(line), "\r"), nil
}

// showPhrase prints a new recovery phrase once, numbered, six lines of four.
func showPhrase(w io.Writer, phrase string) {
	words := strings.Fields(phrase)
	fmt.Fprintln(w, "Your recovery phrase. Write it down now, on paper; it is shown only once.")
	fmt.Fprintln(w, "It restarts your key chain if you lose every device. Nobody can restore it for you.")
	fmt.Fprintln(w)
	for i, word := range words {
		fmt.Fprintf(w, "  %2d. %-10s", i+1, word)
		if i%4 == 3 {
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintln(w)
}

// quiz asks for two words of phrase back; the user proves they wrote it
// down before anything is registered.
func quiz(p *prompter, phrase string) error {
	pos, err := vault.QuizPositions(2)
	if err != nil {
		return err
	}
	answers := make([]string, len(pos))
	for i, n := range pos {
		if answers[i], err = p.ask(fmt.Sprintf("Word %d of your phrase: ", n)); err != nil {
			return err
		}
	}
	if !vault.CheckWords(phrase, pos, answers) {
		return fmt.Errorf("words %d and %d do not match the phrase; nothing was registered: run the command again and write the new phrase down", pos[0], pos[1])
	}
	return nil
}

// writePhraseFile writes phrase to a new file of mode 0600 (--phrase-out).
func writePhraseFile(path, phrase string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("--phrase-out: %w", err)
	}
	_, err = f.WriteString(phrase + "\n")
	if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
		os.Remove(path)
		return fmt.Errorf("--phrase-out: %w", err)
	}
	return nil
}
