package imapd

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dovecot is a throw-away Dovecot (Debian's dovecot-imapd) on 127.0.0.1:
// a configuration, state and Maildir of its own under a temporary
// directory, run in the foreground (dovecot -F -c), so nothing of the
// system's /etc/dovecot is used and the system service, if any, is left
// alone. It serves one user with the folders the bridge's store starts
// with, special use and all, and "/" as the hierarchy delimiter, so the
// conformance suite can run unchanged against both servers.
type dovecot struct {
	addr     string
	dir      string
	uid, gid int // of the user Dovecot's mail processes run as
}

const dovecotConf = `base_dir = {{dir}}/run
state_dir = {{dir}}/state
instance_name = umbra-test-{{port}}
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
log_path = {{dir}}/dovecot.log
default_internal_user = {{internal}}
default_internal_group = {{internalGroup}}
default_login_user = {{login}}
first_valid_uid = 1
first_valid_gid = 1
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {{dir}}/passwd
}
userdb {
  driver = static
  args = uid={{uid}} gid={{gid}} home={{dir}}/home/%u
}
mail_location = maildir:~/Maildir:LAYOUT=fs
namespace inbox {
  inbox = yes
  separator = /
  mailbox INBOX {
    auto = subscribe
  }
  mailbox Sent {
    auto = subscribe
    special_use = \Sent
  }
  mailbox Drafts {
    auto = subscribe
    special_use = \Drafts
  }
  mailbox Trash {
    auto = subscribe
    special_use = \Trash
  }
  mailbox Junk {
    auto = subscribe
    special_use = \Junk
  }
  mailbox Archive {
    auto = subscribe
    special_use = \Archive
  }
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = {{port}}
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
`

// startDovecot starts one for user and password, stopping it when the
// test ends. Without dovecot it skips the test, or fails it when CI is
// set.
func startDovecot(t *testing.T, username, password string) *dovecot {
	t.Helper()
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/dovecot"); serr == nil {
			bin = "/usr/sbin/dovecot"
		} else if os.Getenv("CI") == "" {
			t.Skip("dovecot not installed (Debian: dovecot-imapd)")
		} else {
			t.Fatal("dovecot not installed (Debian: dovecot-imapd), and CI is set")
		}
	}
	// Dovecot's login process refuses to run as root, and its mail
	// processes refuse uid 0: as root, run them as Debian's dovecot and
	// dovenull users, which must then reach the directory.
	self, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	internal, login, mailUser := self, self, self
	if os.Geteuid() == 0 {
		if internal, err = user.Lookup("dovecot"); err != nil {
			t.Fatalf("running as root needs the dovecot user: %v", err)
		}
		if login, err = user.Lookup("dovenull"); err != nil {
			t.Fatalf("running as root needs the dovenull user: %v", err)
		}
		mailUser = internal
	}
	group, err := user.LookupGroupId(internal.Gid)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "umbra-dovecot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	home := filepath.Join(dir, "home")
	for _, d := range []string{dir, filepath.Join(dir, "run"), filepath.Join(dir, "state"), home} {
		// MkdirTemp made dir 0700: Dovecot's unprivileged processes
		// must reach it.
		if err := os.MkdirAll(d, 0o755); err != nil || os.Chmod(d, 0o755) != nil {
			t.Fatalf("directory %s: %v", d, err)
		}
	}
	uid, _ := strconv.Atoi(mailUser.Uid)
	gid, _ := strconv.Atoi(mailUser.Gid)
	if err := os.Chown(home, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "passwd"), []byte(username+":{PLAIN}"+password+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The port is picked free and then given to Dovecot, which may lose
	// it to someone else in between: then try another.
	var lastErr error
	for range 3 {
		port, err := pickPort()
		if err != nil {
			t.Fatal(err)
		}
		conf := strings.NewReplacer("{{dir}}", dir, "{{port}}", strconv.Itoa(port),
			"{{internal}}", internal.Username, "{{internalGroup}}", group.Name, "{{login}}", login.Username,
			"{{uid}}", mailUser.Uid, "{{gid}}", mailUser.Gid).Replace(dovecotConf)
		confPath := filepath.Join(dir, "dovecot.conf")
		if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		d := &dovecot{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir, uid: uid, gid: gid}
		if lastErr = d.run(t, bin, confPath); lastErr == nil {
			return d
		}
	}
	t.Fatalf("dovecot did not start: %v", lastErr)
	return nil
}

// inbox makes username's INBOX, a Maildir (LAYOUT=fs keeps INBOX at the
// root), owned by the mail user, and returns its path: a test writes
// messages into its cur/ before the user's first session, as a delivery
// agent would, so that Dovecot finds them on its first sync.
func (d *dovecot) inbox(t testing.TB, username string) string {
	t.Helper()
	root := filepath.Join(d.dir, "home", username, "Maildir")
	for _, p := range []string{filepath.Dir(root), root, filepath.Join(root, "cur"), filepath.Join(root, "new"), filepath.Join(root, "tmp")} {
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, d.uid, d.gid); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// run starts the master process and waits until it greets on d.addr.
func (d *dovecot) run(t *testing.T, bin, conf string) error {
	var out bytes.Buffer
	cmd := exec.Command(bin, "-F", "-c", conf)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(d.dir, "dovecot.log"))
			return fmt.Errorf("exited: %v: %s%s", err, out.String(), log)
		default:
		}
		c, err := net.DialTimeout("tcp", d.addr, time.Second)
		if err != nil {
			continue
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4)
		_, err = c.Read(buf)
		c.Close()
		if err == nil && string(buf) == "* OK" {
			t.Cleanup(stop)
			return nil
		}
	}
	stop()
	log, _ := os.ReadFile(filepath.Join(d.dir, "dovecot.log"))
	return errors.New("no greeting: " + out.String() + string(log))
}

// pickPort returns a loopback port that was free a moment ago.
func pickPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
