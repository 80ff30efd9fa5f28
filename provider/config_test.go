package provider

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"umbra/dnsrec"
)

const configTestDir = "/srv/umbra"

// configCases sets every key to a value that is not its default; want is
// the Config that file parses to.
var configCases = map[string]struct {
	value string
	want  func(c *Config)
}{
	"dmtp_listen":         {"127.0.0.1:2626", func(c *Config) { c.DMTPListen = "127.0.0.1:2626" }},
	"metrics_listen":      {"[::1]:9999", func(c *Config) { c.MetricsListen = "[::1]:9999" }},
	"dmap_listen":         {"127.0.0.1:8443", func(c *Config) { c.DMAPListen = "127.0.0.1:8443" }},
	"tls_cert":            {"certs/server.crt", func(c *Config) { c.TLSCert = configTestDir + "/certs/server.crt" }},
	"tls_key":             {"/etc/umbra/server.key", func(c *Config) { c.TLSKey = "/etc/umbra/server.key" }},
	"max_message_size":    {"3KiB", func(c *Config) { c.MaxMessageSize = 3 << 10 }},
	"queue_max_age":       {"2d", func(c *Config) { c.QueueMaxAge = 48 * time.Hour }},
	"retry_base":          {"90s", func(c *Config) { c.RetryBase = 90 * time.Second }},
	"retry_max":           {"2h", func(c *Config) { c.RetryMax = 2 * time.Hour }},
	"queue_workers":       {"16", func(c *Config) { c.QueueWorkers = 16 }},
	"tombstone_horizon":   {"30d", func(c *Config) { c.TombstoneHorizon = 30 * 24 * time.Hour }},
	"claim_lease":         {"5s", func(c *Config) { c.ClaimLease = 5 * time.Second }},
	"tunnel_private":      {"yes", func(c *Config) { c.TunnelPrivate = true }},
	"node":                {"mx-2", func(c *Config) { c.Node = "mx-2" }},
	"db":                  {"postgres://umbra@db.example/umbra", func(c *Config) { c.DB = "postgres://umbra@db.example/umbra" }},
	"mx_listen":           {"127.0.0.1:2525", func(c *Config) { c.MXListen = "127.0.0.1:2525" }},
	"mx_max_message_size": {"5MiB", func(c *Config) { c.MXMaxMessageSize = 5 << 20 }},
	"relay_smarthost":     {"relay.example:587", func(c *Config) { c.SmartHost = "relay.example:587" }},
	"hostname":            {"mail.example", func(c *Config) { c.Hostname = "mail.example" }},
	"dns":                 {"127.0.0.1:5353", func(c *Config) { c.Resolver = &dnsrec.Resolver{Server: "127.0.0.1:5353"} }},

	"dmtp_max_conns":          {"500", func(c *Config) { c.Limits.DMTPMaxConns = 500 }},
	"dmtp_max_conns_per_addr": {"8", func(c *Config) { c.Limits.DMTPMaxPerAddr = 8 }},
	"dmap_max_conns":          {"300", func(c *Config) { c.Limits.DMAPMaxConns = 300 }},
	"dmap_max_conns_per_addr": {"16", func(c *Config) { c.Limits.DMAPMaxPerAddr = 16 }},
	"inflight_memory":         {"1GiB", func(c *Config) { c.Limits.InflightMemory = 1 << 30 }},
	"spool_disk":              {"2GiB", func(c *Config) { c.Limits.SpoolDisk = 2 << 30 }},
	"min_transfer_rate":       {"2KiB", func(c *Config) { c.Limits.MinRate.BytesPerSec = 2 << 10 }},
	"min_transfer_grace":      {"3s", func(c *Config) { c.Limits.MinRate.Grace = 3 * time.Second }},
	"handshake_timeout":       {"5s", func(c *Config) { c.Limits.HandshakeTimeout = 5 * time.Second }},
}

// Every key parses, on its own and all together, to the value it names;
// a new key without a case here fails the test.
func TestParseConfigEveryKey(t *testing.T) {
	t.Parallel()
	all := Config{Dir: configTestDir}
	var file strings.Builder
	for _, k := range configKeys {
		c, ok := configCases[k.name]
		if !ok {
			t.Errorf("configuration key %q has no test case", k.name)
			continue
		}
		got, err := ParseConfig(configTestDir, []byte(k.name+" = "+c.value+"\n"))
		if err != nil {
			t.Errorf("%s = %s: %v", k.name, c.value, err)
			continue
		}
		want := Config{Dir: configTestDir}
		c.want(&want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %s: got %+v, want %+v", k.name, c.value, got, want)
		}
		c.want(&all)
		file.WriteString(k.name + "=" + c.value + "\n") // spaces are optional
	}
	got, err := ParseConfig(configTestDir, []byte(file.String()))
	if err != nil || !reflect.DeepEqual(got, all) {
		t.Errorf("all keys: %v, got %+v, want %+v", err, got, all)
	}
}

func TestParseConfigUnits(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		key, value string
		want       any
	}{
		{"max_message_size", "1", int64(1)},
		{"max_message_size", "512B", int64(512)},
		{"max_message_size", "64 MiB", int64(64 << 20)},
		{"max_message_size", "4GiB", int64(4 << 30)},
		{"max_message_size", "4194304KiB", int64(4 << 30)},
		{"queue_max_age", "1d", 24 * time.Hour},
		{"queue_max_age", "365d", 365 * 24 * time.Hour},
		{"queue_max_age", "36h", 36 * time.Hour},
		{"retry_base", "1s", time.Second},
		{"retry_max", "1h30m", 90 * time.Minute},
		{"metrics_listen", "off", "off"},
		{"dmap_listen", "off", "off"},
		{"dmtp_listen", ":0", ":0"},
		{"dns", "", (*dnsrec.Resolver)(nil)},
		{"node", "", ""},
	} {
		cfg, err := ParseConfig(configTestDir, []byte(c.key+" = "+c.value))
		if err != nil {
			t.Errorf("%s = %s: %v", c.key, c.value, err)
			continue
		}
		var got any
		switch c.key {
		case "max_message_size":
			got = cfg.MaxMessageSize
		case "queue_max_age":
			got = cfg.QueueMaxAge
		case "retry_base":
			got = cfg.RetryBase
		case "retry_max":
			got = cfg.RetryMax
		case "metrics_listen":
			got = cfg.MetricsListen
		case "dmap_listen":
			got = cfg.DMAPListen
		case "dmtp_listen":
			got = cfg.DMTPListen
		case "dns":
			got = cfg.Resolver
		case "node":
			got = cfg.Node
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s = %s: got %v, want %v", c.key, c.value, got, c.want)
		}
	}
}

// Comments, blank lines, indentation and CRLF line ends are ignored.
func TestParseConfigLayout(t *testing.T) {
	t.Parallel()
	data := "# a comment\r\n\r\n   # an indented comment = with an equals sign\n\t queue_workers\t=\t7  \r\n#node = commented-out\n"
	cfg, err := ParseConfig(configTestDir, []byte(data))
	if err != nil || cfg.QueueWorkers != 7 || cfg.Node != "" {
		t.Fatalf("got %+v, %v", cfg, err)
	}
	if cfg, err := ParseConfig(configTestDir, nil); err != nil || !reflect.DeepEqual(cfg, Config{Dir: configTestDir}) {
		t.Fatalf("empty file: %+v, %v", cfg, err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ data, want string }{
		{"dmtp_listen = :26\nfrobnicate = 1\n", "line 2: unknown setting \"frobnicate\""},
		{"DMTP_LISTEN = :26", "unknown setting"},
		{"node = a\nnode = b", "line 2: node set twice"},
		{"queue_workers 4", "line 1: want \"key = value\""},
		{" = 4", "want \"key = value\""},
		{"dmtp_listen = localhost", "dmtp_listen = \"localhost\""},
		{"dmtp_listen = :70000", "out of range"},
		{"metrics_listen = on", "metrics_listen"},
		{"dns = 127.0.0.1", "dns = \"127.0.0.1\""},
		{"max_message_size = 0", "from 1B to 4GiB"},
		{"max_message_size = 5GiB", "from 1B to 4GiB"},
		{"max_message_size = 4194305KiB", "from 1B to 4GiB"},
		{"max_message_size = 64MB", "max_message_size"},
		{"max_message_size = -1KiB", "from 1B to 4GiB"},
		{"queue_max_age = 0d", "1d to 365d"},
		{"queue_max_age = 366d", "1d to 365d"},
		{"queue_max_age = 5 days", "queue_max_age"},
		{"retry_base = 500ms", "from 1s to 365d"},
		{"retry_max = 8761h", "from 1s to 365d"},
		{"retry_base = -1m", "from 1s to 365d"},
		{"queue_workers = 0", "from 1 to 256"},
		{"queue_workers = 257", "from 1 to 256"},
		{"queue_workers = four", "from 1 to 256"},
		{"db = /var/lib/umbra", "postgres:// URL"},
		// "#" starts a comment only at the start of a line.
		{"queue_workers = 4 # four workers", "from 1 to 256"},
		{"node = " + strings.Repeat("x", 200) + "\n" + "node = y", "node set twice"},
		{"retry_max = " + strings.Repeat("9", 200), "…"},
		{strings.Repeat("#", maxConfigSize+1), "larger than"},
	} {
		_, err := ParseConfig(configTestDir, []byte(c.data))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "provider: "+ConfigFile) {
			t.Errorf("%.40q: error %v, want one with %q", c.data, err, c.want)
		}
		if err != nil && len(err.Error()) > 300 {
			t.Errorf("%.40q: error of %d bytes quotes too much input", c.data, len(err.Error()))
		}
	}
}

// WriteConfig documents every key, and what it writes parses back to the
// values it was given (the defaults otherwise).
func TestWriteConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	values := map[string]string{}
	want := Config{Dir: dir}
	for name, c := range configCases {
		values[name] = c.value
		c.want(&want)
	}
	want.TLSCert = filepath.Join(dir, "certs/server.crt")
	if err := WriteConfig(dir, values); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, ConfigFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode: %v %v", fi.Mode(), err)
	}
	got, err := ParseConfig(dir, data)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("round trip: %v\ngot  %+v\nwant %+v", err, got, want)
	}
	for _, k := range configKeys {
		if !strings.Contains(string(data), "# "+k.doc+"\n"+k.name+" = ") {
			t.Errorf("%s is not written with its documentation", k.name)
		}
	}

	// Defaults: each key present (commented out when empty) and the file
	// parses to the defaults' values.
	def := t.TempDir()
	if err := WriteConfig(def, nil); err != nil {
		t.Fatal(err)
	}
	data, err = os.ReadFile(filepath.Join(def, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	got, err = ParseConfig(def, data)
	if err != nil {
		t.Fatal(err)
	}
	if got.DMTPListen != ":26" || got.MetricsListen != "127.0.0.1:9426" || got.MaxMessageSize != 64<<20 || got.QueueMaxAge != 5*24*time.Hour ||
		got.RetryBase != time.Minute || got.RetryMax != time.Hour || got.QueueWorkers != 4 || got.TLSCert != filepath.Join(def, CertFile) ||
		got.TLSKey != filepath.Join(def, KeyFile) || got.Node != "" || got.Resolver != nil {
		t.Errorf("defaults parse to %+v", got)
	}
	for _, k := range []string{"#node =\n", "#dns =\n"} {
		if !strings.Contains(string(data), k) {
			t.Errorf("default file lacks %q", k)
		}
	}

	// Never overwrites; never writes an invalid file.
	if err := WriteConfig(dir, nil); err == nil {
		t.Error("WriteConfig overwrote an existing file")
	}
	bad := t.TempDir()
	if err := WriteConfig(bad, map[string]string{"queue_workers": "0"}); err == nil {
		t.Error("WriteConfig accepted an invalid value")
	}
	if _, err := os.Stat(filepath.Join(bad, ConfigFile)); !os.IsNotExist(err) {
		t.Errorf("an invalid configuration was written: %v", err)
	}
}

// FuzzParseConfig: any input either fails with an error or yields a
// Config whose every field is within the documented range.
func FuzzParseConfig(f *testing.F) {
	def := f.TempDir()
	if err := WriteConfig(def, nil); err != nil {
		f.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(def, ConfigFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	for name, c := range configCases {
		f.Add([]byte(name + " = " + c.value + "\n"))
	}
	for _, s := range []string{"", "#", "=", "a=b=c", "node = x\r\nnode = y", "max_message_size = 9223372036854775807B",
		"queue_max_age = 9223372036854775807d", "retry_base = 1e3s", "metrics_listen = [::1]:0", "dns = [::1]:53", "\x00=\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(configTestDir, data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "provider: ") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		if cfg.Dir != configTestDir {
			t.Fatalf("Dir %q", cfg.Dir)
		}
		if cfg.MaxMessageSize != 0 && (cfg.MaxMessageSize < 1 || cfg.MaxMessageSize > 4<<30) {
			t.Fatalf("max_message_size %d", cfg.MaxMessageSize)
		}
		for _, d := range []time.Duration{cfg.QueueMaxAge, cfg.RetryBase, cfg.RetryMax} {
			if d != 0 && (d < time.Second || d > 365*24*time.Hour) {
				t.Fatalf("duration %v out of range", d)
			}
		}
		if cfg.QueueWorkers < 0 || cfg.QueueWorkers > 256 {
			t.Fatalf("queue_workers %d", cfg.QueueWorkers)
		}
		for _, p := range []string{cfg.TLSCert, cfg.TLSKey} {
			if p != "" && !filepath.IsAbs(p) {
				t.Fatalf("relative path %q", p)
			}
		}
		if cfg.Resolver != nil && cfg.Resolver.Server == "" {
			t.Fatal("resolver without a server")
		}
	})
}

// A queue that retries past the destination's delivery window could have
// a message stored twice (docs/spec/dmtp.md §5.4): such a queue_max_age
// is refused when the provider starts, the window itself allowed.
func TestQueueMaxAgeWithinDeliveryWindow(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		age time.Duration
		ok  bool
	}{{deliveryWindow, true}, {deliveryWindow + time.Hour, false}, {365 * 24 * time.Hour, false}} {
		cfg := Config{Dir: t.TempDir(), Node: "n1", QueueMaxAge: c.age}
		err := cfg.setDefaults()
		if (err == nil) != c.ok || err != nil && !strings.Contains(err.Error(), "§5.4") {
			t.Errorf("queue_max_age %v: %v", c.age, err)
		}
	}
}
