package devices

import (
	"net"
	"testing"
)

func TestParsePassiveReplies(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ text, want string }{
		{"227 Entering Passive Mode (127,0,0,1,137,229)", "127.0.0.1:35301"},
		{"227 Entering Passive Mode (10,0,0,7,117,48).", "10.0.0.7:30000"},
		{"227 =192,168,1,2,0,21", "192.168.1.2:21"}, // no parentheses (RFC 1123 4.1.2.6)
	} {
		if got, err := parsePASV(c.text); err != nil || got != c.want {
			t.Errorf("parsePASV(%q) = %q, %v; want %q", c.text, got, err, c.want)
		}
	}
	if _, err := parsePASV("227 Entering Passive Mode"); err == nil {
		t.Errorf("parsePASV without an address succeeded")
	}
	ctrl := &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 2121}
	if got, err := parseEPSV("229 Entering Extended Passive Mode (|||42145|)", ctrl); err != nil || got != "127.0.0.1:42145" {
		t.Errorf("parseEPSV = %q, %v", got, err)
	}
	if _, err := parseEPSV("229 Entering Extended Passive Mode (|1|127.0.0.1|42145|)", ctrl); err == nil {
		t.Errorf("parseEPSV of a malformed reply succeeded")
	}
}
