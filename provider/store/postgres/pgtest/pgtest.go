// Package pgtest starts a throw-away PostgreSQL cluster for tests: once
// per test binary (from TestMain, through Main), in a temporary
// directory, listening on 127.0.0.1 on a free port and on a Unix socket in
// that directory, as an unprivileged user (PostgreSQL refuses to run as
// root: under root the cluster belongs to the user "postgres" that
// Debian's package creates, else to "nobody"). It starts at the first
// test that asks for a database, so a binary whose tests all skip or
// need none pays nothing. Each test gets a database of its own
// (NewDatabase), so tests run in parallel.
//
// Debian's server binaries live in /usr/lib/postgresql/VERSION/bin, which
// is not on PATH; the newest there is used, else initdb from PATH. When
// none is installed the tests that need one skip, unless the environment
// variable CI is set, where that is a failure.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrNotInstalled is the error when no PostgreSQL server is found.
var ErrNotInstalled = errors.New("pgtest: PostgreSQL server binaries (initdb, postgres) not found; install Debian's postgresql package")

// Cluster is a throw-away PostgreSQL cluster, started at first use.
type Cluster struct {
	once     sync.Once
	startErr error

	dir  string // the temporary directory: data/ and the socket
	port int
	cmd  *exec.Cmd
	exit chan error // the server's exit
	n    atomic.Int64
}

// Main runs the tests with c, then stops c if a test started it; it
// returns the exit code for os.Exit.
func Main(m *testing.M, c *Cluster) int {
	code := m.Run()
	if err := c.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return code
}

// started starts the cluster at the first call. Without PostgreSQL the
// test skips, unless the environment variable CI is set: then it fails.
func (c *Cluster) started(t testing.TB) {
	t.Helper()
	c.once.Do(func() { c.startErr = c.start() })
	switch {
	case errors.Is(c.startErr, ErrNotInstalled) && os.Getenv("CI") == "":
		t.Skip(c.startErr)
	case c.startErr != nil:
		t.Fatal(c.startErr)
	}
}

// binDir finds the directory of initdb and postgres.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", ErrNotInstalled
}

// version is the number in /usr/lib/postgresql/N/bin.
func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// owner returns the credential to run the server under: nil (this
// process's) unless running as root.
func owner() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("pgtest: user %s: bad uid %q or gid %q", name, u.Uid, u.Gid)
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}
	return nil, errors.New("pgtest: running as root and there is no user postgres or nobody to run PostgreSQL as")
}

// start creates the cluster's directory and runs initdb and postgres.
func (c *Cluster) start() error {
	bin, err := binDir()
	if err != nil {
		return err
	}
	cred, err := owner()
	if err != nil {
		return err
	}
	if c.dir, err = os.MkdirTemp("", "umbra-pgtest-"); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if cred != nil {
		if err := os.Chown(c.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
	}
	data := filepath.Join(c.dir, "data")
	// Trust on loopback and the private socket only: a throw-away
	// cluster, in a directory no other user can enter.
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "umbra", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	// A free port; another process may take it before the server binds,
	// in which case the server fails and the next try takes another.
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return err
		}
		if lastErr = c.run(bin, data, port, cred); lastErr == nil {
			return nil
		}
	}
	return lastErr
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// run starts the server on port and waits until it accepts connections.
func (c *Cluster) run(bin, data string, port int, cred *syscall.Credential) error {
	c.port = port
	log, err := os.Create(filepath.Join(c.dir, "server.log"))
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer log.Close()
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+c.dir,
		"-c", "max_connections=300", "-c", "shared_buffers=64MB")
	cmd.Stdout, cmd.Stderr = log, log
	// Pdeathsig: a test binary killed before Stop takes the server along.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	exit := make(chan error, 1)
	go func() { exit <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	// Ready when this server answers on its own socket: a TCP connection
	// could reach another test binary's cluster that took the port first.
	socket := fmt.Sprintf("postgres://umbra@/postgres?host=%s&port=%d", c.dir, port)
	for {
		conn, err := pgx.Connect(context.Background(), socket)
		if err == nil {
			conn.Close(context.Background())
			c.cmd, c.exit = cmd, exit
			return nil
		}
		select {
		case werr := <-exit:
			out, _ := os.ReadFile(log.Name())
			return fmt.Errorf("pgtest: postgres exited (%v):\n%s", werr, out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exit
			return fmt.Errorf("pgtest: postgres not ready after 30s: %w", err)
		}
	}
}

// url is the URL of database name over TCP on 127.0.0.1.
func (c *Cluster) url(name string) string {
	return fmt.Sprintf("postgres://umbra@127.0.0.1:%d/%s?sslmode=disable", c.port, name)
}

// NewDatabase creates a new empty database and returns its URL.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	return c.Database(t, fmt.Sprintf("test_%d", c.n.Add(1)))
}

// Database returns the URL of the database called name, creating it empty
// the first time.
func (c *Cluster) Database(t testing.TB, name string) string {
	t.Helper()
	c.started(t)
	conn, err := pgx.Connect(t.Context(), c.url("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(t.Context(), "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pe *pgconn.PgError
	if err != nil && !(errors.As(err, &pe) && pe.Code == "42P04") { // 42P04: duplicate_database
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	return c.url(name)
}

// Stop shuts the server down (fast: active sessions are ended) and
// removes its directory, if it was started.
func (c *Cluster) Stop() error {
	c.once.Do(func() {}) // no start after this
	var err error
	if c.cmd != nil {
		c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.exit:
		case <-time.After(30 * time.Second):
			c.cmd.Process.Kill()
			<-c.exit
		}
	}
	if c.dir == "" {
		return nil
	}
	if rerr := os.RemoveAll(c.dir); rerr != nil {
		err = fmt.Errorf("pgtest: %w", rerr)
	}
	return err
}
