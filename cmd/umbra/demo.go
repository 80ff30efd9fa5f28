package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"umbra/atomicfile"
	"umbra/bridge"
	"umbra/provider"
	"umbra/signet"
	"umbra/testnet"
)

func init() {
	register(verb{
		words: "demo",
		help: `Run a whole Umbra network on this machine, ready for a mail client.

In one process: an embedded DNS server, providers a.test and b.test,
accounts alice@a.test and bob@b.test, each with a bridge, and a welcome
message from alice to bob. Prints the IMAP and SMTP settings for a mail
client (Thunderbird, mutt, ...) and writes them to DIR/demo.json:

  {"accounts": [{"address", "imap", "smtp", "username", "password"}, ...],
   "providers": [{"domain", "data_dir"}, ...]}

Runs until interrupted (Ctrl-C). Everything, keys included, stays in DIR.`,
		run: runDemo,
	})
}

// demoFile is the file the demo describes itself in.
const demoFile = "demo.json"

// demoInfo is demo.json.
type demoInfo struct {
	Accounts  []demoAccount  `json:"accounts"`
	Providers []demoProvider `json:"providers"`
}

type demoAccount struct {
	Address  string `json:"address"`
	IMAP     string `json:"imap"`
	SMTP     string `json:"smtp"`
	Username string `json:"username"`
	Password string `json:"password"`
	Dir      string `json:"dir"`
}

type demoProvider struct {
	Domain  string `json:"domain"`
	DataDir string `json:"data_dir"`
	DMAP    string `json:"dmap"`
	MX      string `json:"mx"`
}

// demo is a running demo network.
type demo struct {
	dir     string
	net     *testnet.Network
	bridges []*runningBridge
	info    demoInfo
}

func (d *demo) close() {
	for _, b := range d.bridges {
		if b != nil { // a test stopped it
			b.close()
		}
	}
	d.net.Close()
}

// demoUsers are the demo's accounts, one per provider.
var demoUsers = []string{"alice@a.test", "bob@b.test"}

const welcomeSubject = "Welcome to Umbra ✉"

func runDemo(c *cmd) error {
	dirFlag := c.flags.String("dir", "", "the demo's `DIR`ectory, new or empty (default: a new directory under the system's temporary directory)")
	ephemeral := c.flags.Bool("ephemeral-ports", false, "listen on any free ports instead of 1143/1025 and up")
	if _, err := c.parse(0, 0); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := startDemo(ctx, *dirFlag, *ephemeral, log, c.stdout)
	if err != nil {
		return err
	}
	defer d.close()
	fmt.Fprintf(c.stdout, "\nUmbra demo running in %s (settings also in %s)\n", d.dir, filepath.Join(d.dir, demoFile))
	for _, a := range d.info.Accounts {
		fmt.Fprintf(c.stdout, "\n%s\n  IMAP     %s  (STARTTLS offered; plaintext allowed on loopback)\n  SMTP     %s\n  username %s\n  password %s\n",
			a.Address, a.IMAP, a.SMTP, a.Username, a.Password)
	}
	for _, p := range d.info.Providers {
		fmt.Fprintf(c.stdout, "\nlegacy mail for %s arrives at its MX %s (e.g. swaks --server %s --to bob@b.test)\n", p.Domain, p.MX, p.MX)
	}
	fmt.Fprintf(c.stdout, "\nA welcome message from alice waits in bob's inbox. Ctrl-C stops the demo.\n")
	<-ctx.Done()
	return nil
}

// startDemo builds the network in dir and starts everything; progress goes
// to out.
func startDemo(ctx context.Context, dir string, ephemeral bool, log *slog.Logger, out io.Writer) (*demo, error) {
	var err error
	if dir == "" {
		if dir, err = os.MkdirTemp("", "umbra-demo-"); err != nil {
			return nil, err
		}
	} else if err := emptyDir(dir); err != nil {
		return nil, err
	}
	n, err := testnet.New(filepath.Join(dir, "providers"))
	if err != nil {
		return nil, err
	}
	d := &demo{dir: dir, net: n}
	ok := false
	defer func() {
		if !ok {
			d.close()
		}
	}()
	imapAddr, smtpAddr := bridge.DefaultIMAP, bridge.DefaultSMTP
	if ephemeral {
		imapAddr, smtpAddr = "127.0.0.1:0", "127.0.0.1:0"
	}
	for _, address := range demoUsers {
		domain := signet.DomainOf(address)
		fmt.Fprintf(out, "starting provider %s\n", domain)
		node, err := n.AddProvider(domain)
		if err != nil {
			return nil, err
		}
		if err := node.Start(func(cfg *provider.Config) { cfg.Logger = log }); err != nil {
			return nil, err
		}
		d.info.Providers = append(d.info.Providers, demoProvider{Domain: domain, DataDir: node.Dir, DMAP: node.DMAP, MX: node.MX})
		fmt.Fprintf(out, "creating account %s\n", address)
		acctDir := filepath.Join(dir, "accounts", address)
		pw, err := createDemoAccount(ctx, node, n.DNS.Addr, address, acctDir)
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", address, err)
		}
		rb, err := startBridge(ctx, acctDir, pw, n.Resolver(), imapAddr, smtpAddr, nil, log)
		if err != nil {
			return nil, fmt.Errorf("bridge of %s: %w", address, err)
		}
		d.bridges = append(d.bridges, rb)
		d.info.Accounts = append(d.info.Accounts, demoAccount{
			Address: address, IMAP: rb.b.IMAPAddr(), SMTP: rb.b.SMTPAddr(),
			Username: rb.b.Username(), Password: rb.b.MailPassword(), Dir: acctDir,
		})
	}
	welcome := fmt.Sprintf("From: Alice <alice@a.test>\r\nTo: Bob <bob@b.test>\r\nSubject: %s\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+
		"Hello Bob,\r\n\r\nthis message was sealed by my bridge for you alone, carried by a.test and b.test\r\n"+
		"(which saw only each other's names), and opened by your bridge. Reply to it!\r\n\r\nAlice\r\n",
		mime.QEncoding.Encode("utf-8", welcomeSubject))
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := d.bridges[0].b.Submit(sctx, []string{"bob@b.test"}, []byte(welcome)); err != nil {
		return nil, fmt.Errorf("welcome message: %w", err)
	}
	data, err := json.MarshalIndent(d.info, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Create(filepath.Join(dir, demoFile), append(data, '\n')); err != nil {
		return nil, err
	}
	ok = true
	return d, nil
}

// emptyDir makes dir, or checks that it is empty: the demo never mixes
// with older files.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return os.MkdirAll(dir, 0o700)
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return usageErrorf("--dir %s is not empty; give a new or empty directory", dir)
	}
	return nil
}

// createDemoAccount makes an account the way a user does, with `umbra
// account create` (cautious mode, so a second device can log in), and
// returns its vault password, kept beside it for the demo.
func createDemoAccount(ctx context.Context, node *testnet.Node, dns, address, dir string) ([]byte, error) {
	code, err := node.Provider.AddUser(ctx, address)
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 18)
	rand.Read(secret)
	pw := base64.RawURLEncoding.EncodeToString(secret)
	base := filepath.Dir(dir)
	if err := os.MkdirAll(base, 0o700); err != nil {
		return nil, err
	}
	pwFile := filepath.Join(base, address+".password")
	if err := atomicfile.Create(pwFile, []byte(pw+"\n")); err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	args := []string{"account", "create", address, "--invite", code, "--mode", "cautious", "--dns", dns,
		"--dir", dir, "--password-file", pwFile, "--phrase-out", filepath.Join(base, address+".phrase"), "--name", "demo"}
	if rc := run(args, bytes.NewReader(nil), &stdout, &stderr); rc != 0 {
		return nil, fmt.Errorf("umbra account create: %s", bytes.TrimSpace(stderr.Bytes()))
	}
	return []byte(pw), nil
}
