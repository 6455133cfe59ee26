package auth

import (
	"net/netip"
	"testing"
	"time"
)

// fakeClock is a settable clock for the throttle.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newTestThrottle(t *testing.T, cfg ThrottleConfig) (*Throttle, *fakeClock) {
	t.Helper()
	th, err := NewThrottle(cfg)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	th.now = clock.now
	return th, clock
}

func TestThrottleBansAfterMaxFailures(t *testing.T) {
	t.Parallel()
	th, clock := newTestThrottle(t, ThrottleConfig{MaxFailures: 3, Window: time.Minute})
	addr := netip.MustParseAddr("192.0.2.1")
	start := clock.t
	for i := range 3 {
		if _, banned := th.AddrBanned(addr); banned {
			t.Fatalf("banned after %d failures", i)
		}
		a, n := th.Failed(addr, "cam01")
		if (a || n) != (i == 2) {
			t.Errorf("failure %d: banned now = %v, %v", i+1, a, n)
		}
		clock.t = clock.t.Add(10 * time.Second)
	}
	until, banned := th.AddrBanned(netip.MustParseAddr("::ffff:192.0.2.1")) // the same client over IPv6-mapped
	if !banned || !until.Equal(start.Add(time.Minute)) {
		t.Errorf("AddrBanned = %v, %v; want until %v", until, banned, start.Add(time.Minute))
	}
	if _, banned := th.NameBanned("cam01"); !banned {
		t.Errorf("name not banned")
	}
	if _, banned := th.AddrBanned(netip.MustParseAddr("192.0.2.2")); banned {
		t.Errorf("another address is banned")
	}
	clock.t = start.Add(time.Minute)
	if _, banned := th.AddrBanned(addr); banned {
		t.Errorf("still banned once the first failure left the window")
	}
	th.Failed(addr, "cam01") // two failures in the window again, plus this one
	if _, banned := th.AddrBanned(addr); !banned {
		t.Errorf("three failures within the window did not ban")
	}
}

func TestThrottleSuccessClearsName(t *testing.T) {
	t.Parallel()
	th, _ := newTestThrottle(t, ThrottleConfig{MaxFailures: 2, Window: time.Hour})
	addr := netip.MustParseAddr("198.51.100.9")
	th.Failed(addr, "alice")
	th.Failed(addr, "alice")
	th.Succeeded("alice")
	if _, banned := th.NameBanned("alice"); banned {
		t.Errorf("name still banned after a successful login")
	}
	if _, banned := th.AddrBanned(addr); !banned {
		t.Errorf("a success cleared the address's failures")
	}
}

func TestThrottleBoundsMemory(t *testing.T) {
	t.Parallel()
	th, clock := newTestThrottle(t, ThrottleConfig{MaxFailures: 5, Window: time.Hour, MaxTracked: 100})
	for i := range 1000 {
		clock.t = clock.t.Add(time.Second)
		th.Failed(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), "user"+string(rune('a'+i%26)))
		if len(th.addrs) > 100 || len(th.names) > 100 {
			t.Fatalf("tracking %d addresses, %d names; limit 100", len(th.addrs), len(th.names))
		}
	}
	if _, ok := th.addrs[netip.AddrFrom4([4]byte{10, 0, 3, 231})]; !ok {
		t.Errorf("the latest address was evicted")
	}
}

func TestNewThrottleRefusesBadConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []ThrottleConfig{{}, {MaxFailures: 0, Window: time.Minute}, {MaxFailures: 3}} {
		if _, err := NewThrottle(cfg); err == nil {
			t.Errorf("NewThrottle(%+v) succeeded", cfg)
		}
	}
}
