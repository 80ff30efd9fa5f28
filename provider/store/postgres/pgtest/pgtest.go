// Package pgtest starts a throw-away PostgreSQL cluster for tests: once
// per test binary (from TestMain, through Main), in a temporary
// directory, listening on 127.0.0.1 on a free port and on a Unix socket in
// that directory, as an unprivileged user (PostgreSQL refuses to run as
// root: under root the cluster belongs to the user "postgres" that
// Debian's package creates, else to "nobody"). Each test gets a database
// of its own (NewDatabase), so tests run in parallel.
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
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrNotInstalled is Start's error when no PostgreSQL server is found.
var ErrNotInstalled = errors.New("pgtest: PostgreSQL server binaries (initdb, postgres) not found; install Debian's postgresql package")

// Cluster is a running throw-away PostgreSQL cluster.
type Cluster struct {
	dir  string // the temporary directory: data/ and the socket
	port int
	cmd  *exec.Cmd
	exit chan error // the server's exit
	n    atomic.Int64
}

// Main starts a cluster into *c, runs the tests and stops the cluster;
// it returns the exit code for os.Exit. Without PostgreSQL *c stays nil
// (the tests skip, see NewDatabase), unless CI is set: then it fails.
func Main(m *testing.M, c **Cluster) int {
	cl, err := Start()
	switch {
	case errors.Is(err, ErrNotInstalled) && os.Getenv("CI") == "":
		fmt.Fprintln(os.Stderr, err, "(tests that need it skip)")
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		return 1
	default:
		*c = cl
		defer func() {
			if err := cl.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
		}()
	}
	return m.Run()
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

// Start creates and starts a cluster.
func Start() (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	cred, err := owner()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "umbra-pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	c := &Cluster{dir: dir}
	if err := c.start(bin, cred); err != nil {
		return nil, errors.Join(err, c.Stop())
	}
	return c, nil
}

func (c *Cluster) start(bin string, cred *syscall.Credential) error {
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
	for {
		conn, err := pgx.Connect(context.Background(), c.url("postgres"))
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

// NewDatabase creates a new empty database and returns its URL. A nil
// Cluster (PostgreSQL absent outside CI) skips the test.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	c.skip(t)
	return c.Database(t, fmt.Sprintf("test_%d", c.n.Add(1)))
}

func (c *Cluster) skip(t testing.TB) {
	if c == nil {
		t.Skip(ErrNotInstalled)
	}
}

// Database returns the URL of the database called name, creating it empty
// the first time.
func (c *Cluster) Database(t testing.TB, name string) string {
	t.Helper()
	c.skip(t)
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
// removes its directory.
func (c *Cluster) Stop() error {
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
	if rerr := os.RemoveAll(c.dir); rerr != nil {
		err = fmt.Errorf("pgtest: %w", rerr)
	}
	return err
}
