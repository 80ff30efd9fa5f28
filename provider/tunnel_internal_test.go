package provider

import "testing"

// TestPublicOnly: a look-up tunnel connects only to public addresses; the
// client chooses its bytes, so anything else would open the provider's
// own network to it.
func TestPublicOnly(t *testing.T) {
	t.Parallel()
	for addr, public := range map[string]bool{
		"93.184.215.14:26": true, "[2606:4700::6810:85e5]:26": true,
		"127.0.0.1:26": false, "[::1]:26": false, "10.1.2.3:26": false, "172.16.0.1:26": false,
		"192.168.1.1:26": false, "169.254.169.254:80": false, "[fe80::1]:26": false, "[fd00::1]:26": false,
		"100.64.0.1:26": false, "198.18.0.1:26": false, "0.0.0.0:26": false, "[::]:26": false,
		"[::ffff:127.0.0.1]:26": false, "[64:ff9b::a00:1]:26": false, "224.0.0.1:26": false,
	} {
		if err := publicOnly("tcp", addr, nil); (err == nil) != public {
			t.Errorf("%s: %v, want public %v", addr, err, public)
		}
	}
}
