// Command umbra is the single binary of Umbra: the provider's, the bridge's
// and the operator's verbs live side by side, as in mox.
//
// Each verb group lives in its own file and registers its verbs from an init
// function; main only dispatches. Verbs write to the streams in their cmd
// value, never to os.Stdout directly, so tests can run them in-process.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// verb is one CLI command, such as "keys gen-org".
type verb struct {
	words    string // the words that select it, space separated
	synopsis string // the arguments, for usage lines
	help     string // what it does, shown by -h
	run      func(c *cmd) error
}

var verbs []verb

func register(v verb) { verbs = append(verbs, v) }

// cmd is the context one verb runs in.
type cmd struct {
	verb   *verb
	flags  *flag.FlagSet
	args   []string // raw arguments after the verb words
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// errUsage reports bad arguments; main prints the verb's usage for it.
var errUsage = errors.New("usage")

// errFlags reports a flag error the flag package has already printed,
// together with the usage.
var errFlags = errors.New("bad flags")

// usageErrorf reports bad arguments with a reason shown before the usage.
func usageErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// parse parses the verb's flags, which may come before, between or after
// the positional arguments, and returns the positional arguments. It
// rejects a positional count outside [min, max] (max < 0: no limit).
func (c *cmd) parse(min, max int) ([]string, error) {
	var pos []string
	args := c.args
	for {
		if err := c.flags.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errFlags, err)
		}
		rest := c.flags.Args()
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) < min || (max >= 0 && len(pos) > max) {
		return nil, usageErrorf("wrong number of arguments")
	}
	return pos, nil
}

func (c *cmd) usage() {
	fmt.Fprintf(c.stderr, "usage: umbra %s", c.verb.words)
	if hasFlags(c.flags) {
		fmt.Fprint(c.stderr, " [flags]")
	}
	if c.verb.synopsis != "" {
		fmt.Fprintf(c.stderr, " %s", c.verb.synopsis)
	}
	fmt.Fprintf(c.stderr, "\n\n%s\n", strings.TrimSpace(c.verb.help))
	if hasFlags(c.flags) {
		fmt.Fprintln(c.stderr, "\nflags:")
		c.flags.PrintDefaults()
	}
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run dispatches args to a verb and returns the process exit code: 0 on
// success, 1 when the verb failed, 2 for usage errors.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	v, rest := lookup(args)
	if v == nil {
		if len(args) > 0 && args[0] != "-h" && args[0] != "--help" && args[0] != "help" {
			fmt.Fprintf(stderr, "umbra: unknown command %q\n\n", strings.Join(args, " "))
			listVerbs(stderr, args)
			return 2
		}
		listVerbs(stdout, nil)
		return 0
	}
	c := &cmd{verb: v, args: rest, stdin: stdin, stdout: stdout, stderr: stderr}
	c.flags = flag.NewFlagSet("umbra "+v.words, flag.ContinueOnError)
	c.flags.SetOutput(stderr)
	c.flags.Usage = c.usage
	err := v.run(c)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "umbra %s: %v\n\n", v.words, err)
		c.usage()
		return 2
	case errors.Is(err, errFlags):
		return 2
	default:
		fmt.Fprintf(stderr, "umbra %s: %v\n", v.words, err)
		return 1
	}
}

// lookup finds the verb with the longest word prefix of args.
func lookup(args []string) (*verb, []string) {
	var best *verb
	bestN := 0
	for i := range verbs {
		w := strings.Fields(verbs[i].words)
		if len(w) <= len(args) && len(w) > bestN && equalWords(w, args[:len(w)]) {
			best, bestN = &verbs[i], len(w)
		}
	}
	return best, args[bestN:]
}

func equalWords(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// listVerbs prints every verb (or those starting with the first word of
// prefix, when one matches) with the first line of its help.
func listVerbs(w io.Writer, prefix []string) {
	sorted := make([]verb, len(verbs))
	copy(sorted, verbs)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].words < sorted[j].words })
	group := ""
	if len(prefix) > 0 {
		for _, v := range sorted {
			if strings.HasPrefix(v.words, prefix[0]+" ") {
				group = prefix[0] + " "
			}
		}
	}
	fmt.Fprintln(w, "usage: umbra <command> [flags] [args]; umbra <command> -h for help")
	fmt.Fprintln(w, "\ncommands:")
	for _, v := range sorted {
		if group != "" && !strings.HasPrefix(v.words, group) {
			continue
		}
		first, _, _ := strings.Cut(strings.TrimSpace(v.help), "\n")
		fmt.Fprintf(w, "  %-22s %s\n", v.words, first)
	}
}
