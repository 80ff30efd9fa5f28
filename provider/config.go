package provider

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"umbra/dnsrec"
	"umbra/provider/store"
	"umbra/provider/store/postgres"
	"umbra/provider/store/sqlite"
)

// ConfigFile is the configuration file in a provider's directory,
// DataDir the store's directory under it, and SpoolDir where large DMTP
// messages wait, encrypted, while they arrive (package spool).
const (
	ConfigFile = "umbra.conf"
	DataDir    = "data"
	SpoolDir   = "spool"
)

// maxConfigSize bounds the configuration file.
const maxConfigSize = 64 << 10

// configKey is one setting of the configuration file: its default as
// written by WriteConfig, its documentation, and how it sets a Config.
type configKey struct {
	name, def, doc string
	set            func(c *Config, v string) error
}

var configKeys = append([]configKey{
	{"dmtp_listen", ":26", "Address DMTP listens on (TLS 1.3 from the first byte). Publish the port in dx= of the _dime record.",
		func(c *Config, v string) error { return setHostPort(&c.DMTPListen, v) }},
	{"dmap_listen", ":443", "Address DMAP (HTTPS, TLS 1.3) listens on for the users' devices; \"off\" to disable. Publish its URL in dmap= of the _dime record.",
		func(c *Config, v string) error {
			if v == "off" {
				c.DMAPListen = v
				return nil
			}
			return setHostPort(&c.DMAPListen, v)
		}},
	{"mx_listen", ":25", "Address the legacy SMTP MX listens on (STARTTLS with tls_cert); \"off\" to disable (also when this line is absent). Publish an MX record for the host name.",
		func(c *Config, v string) error {
			if v == "off" {
				c.MXListen = v
				return nil
			}
			return setHostPort(&c.MXListen, v)
		}},
	{"mx_max_message_size", "32MiB", "Largest legacy message the MX accepts (advertised as SIZE). Units: B, KiB, MiB, GiB.",
		func(c *Config, v string) error { return setSize(&c.MXMaxMessageSize, v) }},
	{"relay_smarthost", "", "host:port of a smart host that takes all outbound legacy mail (empty: deliver to each domain's MX on port 25).",
		func(c *Config, v string) error {
			if v == "" {
				return nil
			}
			return setHostPort(&c.SmartHost, v)
		}},
	{"hostname", "", "The server's host name, given in EHLO and Received (default: the domain). Give it an A/AAAA record and a matching PTR.",
		func(c *Config, v string) error { c.Hostname = v; return nil }},
	{"metrics_listen", "127.0.0.1:9426", "Prometheus metrics at /metrics; \"off\" to disable. Keep it on loopback.",
		func(c *Config, v string) error {
			if v == "off" {
				c.MetricsListen = v
				return nil
			}
			return setHostPort(&c.MetricsListen, v)
		}},
	{"tls_cert", CertFile, "TLS certificate (PEM), relative to this directory. Its public key is pinned in the _dime record.",
		func(c *Config, v string) error { c.TLSCert = v; return nil }},
	{"tls_key", KeyFile, "TLS private key (PEM), relative to this directory.",
		func(c *Config, v string) error { c.TLSKey = v; return nil }},
	{"max_message_size", "64MiB", "Largest message accepted over DMTP (advertised as SIZE). Units: B, KiB, MiB, GiB.",
		func(c *Config, v string) error { return setSize(&c.MaxMessageSize, v) }},
	{"queue_max_age", "5d", "How long an outbound message is retried before it bounces to its author, at most 7d (how long a destination remembers a delivery, so that a retry is not stored twice). Units: s, m, h, d.",
		func(c *Config, v string) error { return setDuration(&c.QueueMaxAge, v) }},
	{"retry_base", "1m", "First delay after a failed delivery; each further failure doubles it.",
		func(c *Config, v string) error { return setDuration(&c.RetryBase, v) }},
	{"retry_max", "1h", "Longest delay between two delivery attempts.",
		func(c *Config, v string) error { return setDuration(&c.RetryMax, v) }},
	{"claim_lease", "2m", "How long a node's claim on an outbound message lasts: the longest a node that died keeps its claimed mail from the other nodes sharing the store.",
		func(c *Config, v string) error { return setDuration(&c.ClaimLease, v) }},
	{"tombstone_horizon", "90d", "How long a deleted document's tombstone stays in its account's change feed. A device offline for longer syncs again from scratch.",
		func(c *Config, v string) error { return setDuration(&c.TombstoneHorizon, v) }},
	{"queue_workers", "4", "Concurrent outbound deliveries.",
		func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 256 {
				return fmt.Errorf("want a number from 1 to 256")
			}
			c.QueueWorkers = n
			return nil
		}},
	{"tunnel_private", "no", "yes lets the users' look-up tunnels reach loopback and private addresses that another domain's _dime record names (test networks on one machine only).",
		func(c *Config, v string) error {
			switch v {
			case "yes":
				c.TunnelPrivate = true
			case "no":
				c.TunnelPrivate = false
			default:
				return fmt.Errorf("want yes or no")
			}
			return nil
		}},
	{"db", "", "The store: empty for the embedded database in data/ under this directory; a postgres://user:password@host/database URL for a PostgreSQL database that several nodes of this domain share (each with its own copy of this directory and its own node name).",
		func(c *Config, v string) error {
			if v != "" && !postgres.IsURL(v) {
				return fmt.Errorf("want empty or a postgres:// URL")
			}
			c.DB = v
			return nil
		}},
	{"node", "", "Name of this node among several sharing one store (default: the host name).",
		func(c *Config, v string) error { c.Node = v; return nil }},
	{"dns", "", "DNS resolver host:port for _dime look-ups (default: the first nameserver in /etc/resolv.conf). Use a DNSSEC-validating resolver you trust, ideally on loopback.",
		func(c *Config, v string) error {
			if v == "" {
				return nil
			}
			if err := setHostPort(new(string), v); err != nil {
				return err
			}
			c.Resolver = &dnsrec.Resolver{Server: v}
			return nil
		}},
}, limitKeys...)

// ParseConfig reads a configuration file: "key = value" lines, "#"
// comments and blank lines. Unknown keys and repeated keys are errors, so
// a typo never silently falls back to a default. Relative paths are
// resolved against dir, which becomes Config.Dir.
func ParseConfig(dir string, data []byte) (Config, error) {
	c := Config{Dir: dir}
	if len(data) > maxConfigSize {
		return c, fmt.Errorf("provider: %s: larger than %d bytes", ConfigFile, maxConfigSize)
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return c, fmt.Errorf("provider: %s line %d: want \"key = value\"", ConfigFile, n)
		}
		key := findKey(k)
		if key == nil {
			return c, fmt.Errorf("provider: %s line %d: unknown setting %q", ConfigFile, n, clip(k))
		}
		if seen[k] {
			return c, fmt.Errorf("provider: %s line %d: %s set twice", ConfigFile, n, k)
		}
		seen[k] = true
		if err := key.set(&c, v); err != nil {
			return c, fmt.Errorf("provider: %s line %d: %s = %q: %v", ConfigFile, n, k, clip(v), err)
		}
	}
	if err := sc.Err(); err != nil {
		return c, fmt.Errorf("provider: %s: %w", ConfigFile, err)
	}
	for _, p := range []*string{&c.TLSCert, &c.TLSKey} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	return c, nil
}

func findKey(name string) *configKey {
	for i := range configKeys {
		if configKeys[i].name == name {
			return &configKeys[i]
		}
	}
	return nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// CheckConfig checks settings exactly as the server will read them, so a
// command can refuse bad values before it writes anything. A value may not
// carry a control character: a line break would smuggle another setting
// into the file.
func CheckConfig(dir string, values map[string]string) error {
	var b strings.Builder
	for k, v := range values {
		if strings.ContainsFunc(v, unicode.IsControl) {
			return fmt.Errorf("provider: setting %s %q: control characters are not allowed", k, clip(v))
		}
		fmt.Fprintf(&b, "%s = %s\n", k, v)
	}
	_, err := ParseConfig(dir, []byte(b.String()))
	return err
}

// WriteConfig writes a new configuration file into dir with every setting,
// its documentation and its value (from values, else the default).
func WriteConfig(dir string, values map[string]string) error {
	if err := CheckConfig(dir, values); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("# Umbra provider configuration. Lines are \"key = value\"; lines starting with \"#\" are comments.\n")
	b.WriteString("# Every setting is listed with its default; `umbra server run --dir DIR` reads this file.\n")
	for _, k := range configKeys {
		fmt.Fprintf(&b, "\n# %s\n", k.doc)
		v, ok := values[k.name]
		if !ok {
			v = k.def
		}
		if v == "" {
			fmt.Fprintf(&b, "#%s =\n", k.name)
		} else {
			fmt.Fprintf(&b, "%s = %s\n", k.name, v)
		}
	}
	data := []byte(b.String())
	if _, err := ParseConfig(dir, data); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, ConfigFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("provider: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func setHostPort(dst *string, v string) error {
	if _, port, err := net.SplitHostPort(v); err != nil {
		return err
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("port %q out of range", port)
	}
	*dst = v
	return nil
}

func setSize(dst *int64, v string) error {
	units := []struct {
		suffix string
		mul    int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}, {"", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(v, u.suffix); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
			if err != nil || n < 1 || n > (4<<30)/u.mul {
				return fmt.Errorf("want a size from 1B to 4GiB")
			}
			*dst = n * u.mul
			return nil
		}
	}
	return fmt.Errorf("want a size such as 64MiB")
}

func setDuration(dst *time.Duration, v string) error {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > 365 {
			return fmt.Errorf("want 1d to 365d")
		}
		*dst = time.Duration(n) * 24 * time.Hour
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Second || d > 365*24*time.Hour {
		return fmt.Errorf("want a duration from 1s to 365d, such as 90s, 5m, 2h or 5d")
	}
	*dst = d
	return nil
}

// ReadConfig reads and parses dir's configuration file.
func ReadConfig(dir string) (Config, error) {
	data, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		return Config{}, fmt.Errorf("provider: %w", err)
	}
	return ParseConfig(dir, data)
}

// Open reads dir's configuration file, applies override (nil for none),
// opens the store (Config.DB: the SQLite store in dir/data, or
// PostgreSQL) and prepares the provider. Close closes the store too.
func Open(dir string, override func(*Config)) (*Provider, error) {
	cfg, err := ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	if override != nil {
		override(&cfg)
	}
	st, err := OpenStore(dir, cfg.DB)
	if err != nil {
		return nil, err
	}
	p, err := New(cfg, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	p.ownStore = true
	return p, nil
}

// OpenStore opens the store db names (Config.DB): a postgres:// URL, or
// with "" the SQLite store in dir/data.
func OpenStore(dir, db string) (store.Store, error) {
	if db == "" {
		return sqlite.Open(filepath.Join(dir, DataDir))
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeOpenTimeout)
	defer cancel()
	return postgres.Open(ctx, db)
}

// storeOpenTimeout bounds connecting to a database server and bringing
// its schema up to date.
const storeOpenTimeout = time.Minute
