package gateway_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/gateway"
	"github.com/s3ftp/s3ftp/gateway/events"
	"github.com/s3ftp/s3ftp/storage"
	"github.com/s3ftp/s3ftp/storage/s3test"
)

// slowUpload writes size bytes to conn in chunks over d.
func slowUpload(conn net.Conn, size int, d time.Duration) error {
	const chunks = 20
	data := randBytes(size)
	for i := range chunks {
		if _, err := conn.Write(data[i*size/chunks : (i+1)*size/chunks]); err != nil {
			return err
		}
		time.Sleep(d / chunks)
	}
	return nil
}

// TestShutdownDrains: on shutdown an idle session is told 421 at once; an
// upload in progress finishes (226, stored) when it fits in the shutdown
// timeout, and is aborted (no object, no multipart upload, an error reply,
// then 421) when it does not.
func TestShutdownDrains(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		timeout  time.Duration
		finishes bool
	}{
		// The drain ends as soon as the transfer does, so the long timeout
		// only bounds a loaded machine: the upload is paced over 2 s and
		// must be let finish; the short one always cuts it.
		{"finishes", 2 * time.Minute, true},
		{"aborted", 500 * time.Millisecond, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, s3test.Fake(t), envOptions{
				settings: gateway.Settings{ShutdownTimeout: c.timeout},
				storage:  storage.Settings{PartSize: 5 << 20},
			})
			idle := rawDial(t, e.addr, "")
			idle.login("alice")
			up := rawDial(t, e.addr, "")
			up.login("alice")
			conn := storRaw(t, up, "slow.bin")
			if err := slowUpload(conn, 256<<10, 200*time.Millisecond); err != nil {
				t.Fatal(err)
			}

			stopped := make(chan error, 1)
			go func() { stopped <- e.shutdown() }()
			if code, text := idle.reply(); code != 421 {
				t.Errorf("idle session got %d %s, want 421", code, text)
			}
			if _, err := net.DialTimeout("tcp", e.addr, time.Second); err == nil {
				t.Errorf("new connections are still accepted while draining")
			}
			err := slowUpload(conn, 12<<20, 2*time.Second) // longer than the short timeout
			conn.Close()
			if c.finishes {
				if err != nil {
					t.Fatalf("upload cut during the drain: %v", err)
				}
				up.expect(226)
				if _, err := e.object("alice/slow.bin"); err != nil {
					t.Errorf("the finished upload is not stored: %v", err)
				}
			} else {
				if code, text := up.reply(); code != 421 && code < 400 {
					t.Errorf("aborted upload got %d %s, want an error", code, text)
				}
				e.nothingAt(t, "alice/slow.bin")
			}
			if code, text := up.reply(); code != 421 {
				t.Errorf("uploading session finally got %d %s, want 421", code, text)
			}
			select {
			case err := <-stopped:
				if err != nil {
					t.Errorf("serve: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("serve did not return after the drain")
			}
		})
	}
}

// publisher records the events it is given.
type publisher struct {
	mu     sync.Mutex
	events []events.Event
}

func (p *publisher) Publish(e events.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, e)
}

func (p *publisher) all() []events.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]events.Event(nil), p.events...)
}

// TestEvents: a completed upload, a delete and a rename each publish one
// event with the user, bucket, key, size and digest; an aborted upload
// publishes none.
func TestEvents(t *testing.T) {
	t.Parallel()
	pub := &publisher{}
	e := newEnv(t, s3test.Fake(t), envOptions{events: pub})
	c := e.dial(t, "alice", true)
	data := randBytes(5000)
	must(t, "stor", c.Stor("/scans/doc.pdf", bytes.NewReader(data)))
	must(t, "rename", c.Rename("/scans/doc.pdf", "/done/doc.pdf"))
	must(t, "dele", c.Delete("/done/doc.pdf"))
	r := rawDial(t, e.addr, "")
	r.login("alice")
	conn := storRaw(t, r, "aborted.bin")
	_, _ = conn.Write(randBytes(1000))
	_ = conn.SetLinger(0)
	conn.Close()
	r.reply()

	got := pub.all()
	if len(got) != 3 {
		t.Fatalf("got %d events, want 3: %+v", len(got), got)
	}
	sum := sha256.Sum256(data)
	up, rn, del := got[0], got[1], got[2]
	if up.Type != events.TypeUpload || up.User != "alice" || up.Bucket != e.bucket || up.Key != "alice/scans/doc.pdf" ||
		up.Path != "/scans/doc.pdf" || up.Size != 5000 || up.SHA256 != hex.EncodeToString(sum[:]) ||
		up.ClientIP != "127.0.0.1" || up.Session == "" {
		t.Errorf("upload event = %+v", up)
	}
	if rn.Type != events.TypeRename || rn.Key != "alice/done/doc.pdf" || rn.OldKey != "alice/scans/doc.pdf" || rn.OldPath != "/scans/doc.pdf" {
		t.Errorf("rename event = %+v", rn)
	}
	if del.Type != events.TypeDelete || del.Key != "alice/done/doc.pdf" {
		t.Errorf("delete event = %+v", del)
	}
}

// observer counts what the gateway reports.
type observer struct {
	mu     sync.Mutex
	counts map[string]int
	bytes  int64
}

func (o *observer) add(k string, n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.counts == nil {
		o.counts = map[string]int{}
	}
	o.counts[k] += n
}

func (o *observer) SessionStarted()            { o.add("sessions", 1); o.add("active", 1) }
func (o *observer) SessionEnded()              { o.add("active", -1) }
func (o *observer) Login(result string)        { o.add("login:"+result, 1) }
func (o *observer) PassivePortOpened()         { o.add("pasv", 1) }
func (o *observer) PassivePortClosed()         { o.add("pasv", -1) }
func (o *observer) ConnectionRefused(r string) { o.add("refused:"+r, 1) }
func (o *observer) PassiveRefused(r string)    { o.add("pasv-refused:"+r, 1) }
func (o *observer) Relayed(peer int, up, down int64, err error) {
	o.add(fmt.Sprintf("relayed:%d:%v", peer, err == nil), 1)
	o.add(fmt.Sprintf("relayed-bytes:%d", peer), int(up+down))
}
func (o *observer) TransferDone(op, result string, n int64, _ time.Duration) {
	o.add(op+":"+result, 1)
	o.mu.Lock()
	o.bytes += n
	o.mu.Unlock()
}

func (o *observer) get(k string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts[k]
}

// TestObserver: sessions, logins and transfers move the observer's counts.
func TestObserver(t *testing.T) {
	t.Parallel()
	obs := &observer{}
	e := newEnv(t, s3test.Fake(t), envOptions{observer: obs})
	bad := rawDial(t, e.addr, "")
	bad.cmd(331, "USER alice")
	bad.cmd(530, "PASS wrong")
	c := e.dial(t, "alice", true)
	must(t, "stor", c.Stor("a.txt", strings.NewReader("12345")))
	r, err := c.Retr("a.txt")
	must(t, "retr", err)
	_, _ = r.Read(make([]byte, 10))
	must(t, "close", r.Close())
	must(t, "quit", c.Quit())
	deadline := time.Now().Add(5 * time.Second)
	for obs.get("active") != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	for k, want := range map[string]int{
		"sessions": 2, "active": 0, "login:ok": 1, "login:denied": 1,
		"upload:ok": 1, "download:ok": 1,
	} {
		if got := obs.get(k); got != want {
			t.Errorf("%s = %d, want %d", k, got, want)
		}
	}
	if obs.bytes != 10 {
		t.Errorf("bytes = %d, want 10", obs.bytes)
	}
}

// TestUserBandwidth: a user's uploads and downloads are held to the limit,
// all their sessions together. Only lower bounds on time are checked: a
// slow machine cannot make them fail.
func TestUserBandwidth(t *testing.T) {
	t.Parallel()
	const limit = 256 << 10 // bytes per second
	e := newEnv(t, s3test.Fake(t), envOptions{settings: gateway.Settings{UserBandwidth: limit}})
	data := randBytes(640 << 10)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range 2 { // two sessions of one user share the limit
		wg.Go(func() {
			c := e.dial(t, "alice", true)
			if err := c.Stor(fmt.Sprintf("f%d", i), bytes.NewReader(data)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// 1280 KiB at 256 KiB/s, less a burst of 128 KiB per direction: > 4 s.
	if elapsed := time.Since(start); elapsed < 3*time.Second {
		t.Errorf("two 640 KiB uploads took %v at a 256 KiB/s limit", elapsed)
	}
	if got, _ := e.object("alice/f0"); !bytes.Equal(got, data) {
		t.Errorf("limited upload stored %d bytes", len(got))
	}
	c := e.dial(t, "alice", true)
	start = time.Now()
	r, err := c.Retr("f0")
	must(t, "retr", err)
	got, _ := io.ReadAll(r)
	_ = r.Close()
	if elapsed := time.Since(start); len(got) != len(data) || elapsed < 1500*time.Millisecond {
		t.Errorf("download of %d bytes took %v at 256 KiB/s", len(got), elapsed)
	}
}
