package devices

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestReplay runs small transcripts against a scripted FTP server to check
// what the engine sends, what it accepts and how it reports failures.
func TestReplay(t *testing.T) {
	t.Parallel()
	const header = "payload a.jpg jpeg 3000\npayload b.bin bin 20000\n"
	for _, c := range []struct {
		name string
		src  string
		want []string // failures, in order, as substrings
		log  []string // substrings of the log
	}{{
		name: "passive and active uploads, listing, checks",
		src: header + `connect
< 220
> USER {user}
< 331
> PASS {password}
< 2xx
> FEAT
< 211 ~ size
repeat 2 {
> PASV
< 227
> STOR /d/{i:03}.jpg
< 150
send a.jpg
close
< 226
}
> EPSV
< 229
> STOR /d/b.bin
< 150
send b.bin[:100] over 50ms
send b.bin[100:]
close
< 226
> PORT {port}
< 200
> STOR /e/a.jpg
< 150
send a.jpg
close
< 226
> EPRT {eprt}
< 200
> LIST /d
< 150
recv
< 226
data has 001.jpg b.bin
data lacks 003.jpg
data count 3
data ~ {size:a.jpg}
> SIZE /d/b.bin
< 213 ~ {size:b.bin}
> HASH /d/b.bin
< 213 ~ {sha256:b.bin}
> QUIT
< 221
eof
expect object /d/001.jpg = a.jpg
expect object /d/b.bin = b.bin
expect absent /d/003.jpg
expect dir /e
expect files /d = 001.jpg 002.jpg b.bin
expect count / 4
`,
		log: []string{"> PASS ****", "< 211-Features", "data: sent 100 bytes of b.bin[0:100]", "data: sent 19900 bytes of b.bin[100:]", "ok files /d (3)"},
	}, {
		name: "a wrong reply ends the connection, the checks still run",
		src: header + `connect
< 220
> NOOP
< 250
> NOOP
< 200
expect absent /x
connect
< 220
> NOOP
< 200
> MKD x
< 257
expect object /missing = a.jpg
`,
		want: []string{
			`t.txt:6: after > NOOP: got "200 OK", want 250`,
			`t.txt:15: after > MKD x: got "502 not implemented", want 257`,
			`t.txt:16: expect object /missing: no object stored`,
		},
		log: []string{"skipped 2 steps after the failure", "ok absent /x"},
	}, {
		name: "reply text, data checks and eof",
		src: header + `connect
< 220
> PASV
< 227
> LIST
< 150
recv
< 226 ~ done
data has nothing.jpg
data count 0
> QUIT
< 221
eof
> NOOP
`,
		want: []string{
			`t.txt:10: after > LIST: got "226 Transfer complete", want 226 ~ "done"`,
			// the data checks after it are skipped with the connection
		},
	}, {
		name: "no data connection, unknown placeholder",
		src: header + `connect
< 220
> STOR x
< 425
send a.jpg
connect
< 220
> NOOP {nope}
`,
		want: []string{
			"t.txt:7: no data connection: PASV, EPSV, PORT {port} or EPRT {eprt} first",
			"t.txt:10: unknown placeholder {nope}",
		},
	}, {
		name: "commands sent ahead: each reply answers its own command",
		src: header + `connect
< 220
> PASV
< 227
> STOR a.jpg
< 150
send a.jpg
close
> QUIT
< 226
< 221
connect
< 220
> NOOP
> MKD x
< 200
< 257
`,
		want: []string{`t.txt:19: after > MKD x: got "502 not implemented", want 257`},
	}, {
		name: "the server stays silent",
		src: header + `connect
< 220
> SILENT
< 200
`,
		want: []string{"t.txt:6: after > SILENT: reading the reply"},
	}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			script, err := Parse("t.txt", strings.NewReader(c.src))
			if err != nil {
				t.Fatal(err)
			}
			srv := newFakeServer(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if c.name == "the server stays silent" {
				ctx, cancel = context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
			}
			res := Replay(ctx, script, Target{Addr: srv.addr, User: "cam", Password: "secret", Store: srv})
			if len(res.Failures) != len(c.want) {
				t.Fatalf("failures %q, want %q\nlog:\n%s", res.Failures, c.want, res.Log)
			}
			for i, w := range c.want {
				if !strings.Contains(res.Failures[i], w) {
					t.Errorf("failure %d = %q, want it to contain %q", i, res.Failures[i], w)
				}
			}
			for _, w := range c.log {
				if !strings.Contains(res.Log, w) {
					t.Errorf("log lacks %q:\n%s", w, res.Log)
				}
			}
			if strings.Contains(res.Log, "secret") {
				t.Errorf("the password is in the log")
			}
		})
	}
}

// fakeServer is a scripted FTP server for TestReplay: enough of the
// protocol for the engine (passive and active STOR, LIST, SIZE, HASH),
// keeping files in memory; it is also the Store of what it received.
type fakeServer struct {
	addr  string
	mu    sync.Mutex
	files map[string][]byte
}

var _ Store = (*fakeServer)(nil)

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	s := &fakeServer{addr: l.Addr().String(), files: map[string][]byte{}}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go s.serve(conn)
		}
	}()
	return s
}

func (s *fakeServer) serve(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	say := func(format string, args ...any) { fmt.Fprintf(conn, format+"\r\n", args...) }
	var pasv net.Listener
	var port string
	open := func() (net.Conn, error) {
		if pasv != nil {
			defer pasv.Close()
			return pasv.Accept()
		}
		return net.Dial("tcp", port)
	}
	say("220 fake ready")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		switch verb {
		case "USER":
			say("331 password please")
		case "PASS":
			say("230 welcome")
		case "NOOP":
			say("200 OK")
		case "SILENT":
		case "FEAT":
			say("211-Features:\r\n SIZE\r\n HASH SHA-256*\r\n211 End")
		case "PASV", "EPSV":
			pasv, _ = net.Listen("tcp4", "127.0.0.1:0")
			p := pasv.Addr().(*net.TCPAddr).Port
			if verb == "EPSV" {
				say("229 Entering Extended Passive Mode (|||%d|)", p)
			} else {
				say("227 Entering Passive Mode (127,0,0,1,%d,%d).", p/256, p%256)
			}
		case "PORT", "EPRT":
			if verb == "PORT" {
				n := strings.Split(arg, ",")
				hi, _ := strconv.Atoi(n[4])
				lo, _ := strconv.Atoi(n[5])
				port = net.JoinHostPort(strings.Join(n[:4], "."), strconv.Itoa(hi*256+lo))
			} else {
				f := strings.Split(arg, "|")
				port = net.JoinHostPort(f[2], f[3])
			}
			say("200 PORT OK")
		case "STOR", "LIST":
			data, err := open()
			pasv = nil
			if err != nil {
				say("425 no data connection")
				continue
			}
			say("150 opening data connection")
			if verb == "STOR" {
				b, _ := io.ReadAll(data)
				s.mu.Lock()
				s.files[path.Clean(arg)] = b
				s.mu.Unlock()
			} else {
				for _, name := range s.list(arg) {
					fmt.Fprintf(data, "-rw-r--r-- 1 ftp ftp %12d Nov 25 10:41 %s\r\n", len(s.get(path.Join(arg, name))), name)
				}
			}
			data.Close()
			say("226 Transfer complete")
		case "SIZE":
			say("213 %d", len(s.get(arg)))
		case "HASH":
			say("213 SHA-256 0-%d %s %s", len(s.get(arg)), sha256Hex(s.get(arg)), arg)
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 not implemented")
		}
	}
}

func (s *fakeServer) get(name string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.files[path.Clean(name)]
}

// list returns the names of the files directly in dir.
func (s *fakeServer) list(dir string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for p := range s.files {
		if path.Dir(p) == path.Clean(dir) {
			names = append(names, path.Base(p))
		}
	}
	slices.Sort(names)
	return names
}

func (s *fakeServer) Object(_ context.Context, name string) (string, int64, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.files[path.Clean(name)]
	return sha256Hex(b), int64(len(b)), ok, nil
}

func (s *fakeServer) Dir(ctx context.Context, name string) (bool, error) {
	files, err := s.Files(ctx, name)
	return len(files) > 0, err
}

func (s *fakeServer) Files(_ context.Context, dir string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prefix := strings.TrimSuffix(path.Clean(dir), "/") + "/"
	var out []string
	for p := range s.files {
		if rel, ok := strings.CutPrefix(p, prefix); ok {
			out = append(out, rel)
		}
	}
	return out, nil
}
