package ftpserver

// Tests for s3ftp's patches (PATCHES.md). Each fails on the unpatched
// library. They talk to a real server on 127.0.0.1 over a raw control
// connection, so the exact reply lines are what is checked.

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/require"
)

// rawClient is a control connection that reads whole (multi-line) replies.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	text *textproto.Conn
}

// dialRaw connects to server and reads its greeting.
func dialRaw(t *testing.T, server *FtpServer) *rawClient {
	t.Helper()

	conn, err := net.Dial("tcp", server.Addr())
	require.NoError(t, err)

	client := &rawClient{t: t, conn: conn, text: textproto.NewConn(conn)}
	t.Cleanup(func() { _ = client.text.Close() })
	client.expect(StatusServiceReady)

	return client
}

// loginRaw connects to server and logs in as the test user.
func loginRaw(t *testing.T, server *FtpServer) *rawClient {
	t.Helper()

	client := dialRaw(t, server)
	client.cmd(StatusUserOK, "USER "+authUser)
	client.cmd(StatusUserLoggedIn, "PASS "+authPass)

	return client
}

// send sends one command line and returns the reply's code and text.
func (c *rawClient) send(format string, args ...any) (int, string) {
	c.t.Helper()

	_, err := c.text.Cmd(format, args...)
	require.NoError(c.t, err)

	code, msg, err := c.text.ReadResponse(0)
	var protoErr *textproto.Error
	if errors.As(err, &protoErr) {
		return protoErr.Code, protoErr.Msg
	}

	require.NoError(c.t, err)

	return code, msg
}

// cmd sends a command and requires the reply code.
func (c *rawClient) cmd(code int, format string, args ...any) string {
	c.t.Helper()

	got, msg := c.send(format, args...)
	require.Equal(c.t, code, got, "%s: %s", fmt.Sprintf(format, args...), msg)

	return msg
}

// epsv sends EPSV and returns the passive port of its reply.
func (c *rawClient) epsv() int {
	c.t.Helper()

	msg := c.cmd(StatusEnteringEPSV, "EPSV")

	var port int
	_, err := fmt.Sscanf(msg[strings.Index(msg, "(|||"):], "(|||%d|)", &port)
	require.NoError(c.t, err, msg)

	return port
}

// expect reads one reply and requires its code.
func (c *rawClient) expect(code int) string {
	c.t.Helper()

	got, msg, err := c.text.ReadResponse(code)
	require.NoError(c.t, err, "reply %d %s", got, msg)

	return msg
}

// Patch 1: STRU F is accepted, other structures are refused with 504.
func TestPatchSTRU(t *testing.T) {
	client := loginRaw(t, NewTestServer(t, false))

	for _, tc := range []struct {
		param string
		code  int
	}{
		{"F", StatusOK},
		{"f", StatusOK},
		{"R", StatusNotImplementedParam},
		{"P", StatusNotImplementedParam},
	} {
		client.cmd(tc.code, "STRU %s", tc.param)
	}
}

// Patch 2: a private address in PORT/EPRT that is not the control
// connection's peer is replaced by the peer's; other addresses still meet
// ActiveConnectionsCheck, so there is no bounce.
func TestPatchActivePrivateAddressSubstitution(t *testing.T) {
	for _, tc := range []struct {
		name       string
		substitute bool
		announced  string
		dialed     bool
	}{
		{"private address substituted", true, "10.255.255.1", true},
		{"substitution off", false, "10.255.255.1", false},
		{"public address not substituted", true, "192.0.2.1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server := NewTestServerWithTestDriver(t, &TestServerDriver{Settings: &Settings{
				ActiveTransferPortNon20:          true,
				ActiveConnectionsCheck:           IPMatchRequired,
				ActivePrivateAddressSubstitution: tc.substitute,
			}})
			client := loginRaw(t, server)

			listener, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			t.Cleanup(func() { _ = listener.Close() })

			port := listener.Addr().(*net.TCPAddr).Port
			code, msg := client.send("EPRT |1|%s|%d|", tc.announced, port)

			if !tc.dialed {
				require.Equal(t, StatusSyntaxErrorParameters, code, msg)

				return
			}

			require.Equal(t, StatusOK, code, msg)

			_, err = client.text.Cmd("NLST")
			require.NoError(t, err)

			data, err := listener.Accept()
			require.NoError(t, err)
			require.NoError(t, data.Close())
			client.expect(StatusFileStatusOK)
			client.expect(StatusClosingDataConn)
		})
	}
}

// Patch 3: with DisableMFMT, MFMT is not implemented (502), as FEAT says.
func TestPatchMFMTDisabled(t *testing.T) {
	server := NewTestServerWithTestDriver(t, &TestServerDriver{Settings: &Settings{DisableMFMT: true}})
	client := loginRaw(t, server)
	client.cmd(StatusCommandNotImplemented, "MFMT 20200101000000 file.txt")
}

// Patch 4: replies carry the driver's message, name the file of a failed
// transfer, hide socket errors, and an upload's reply is its Close error.
func TestPatchReplyText(t *testing.T) {
	server := NewTestServerWithTestDriver(t, &TestServerDriver{Settings: &Settings{
		ActiveTransferPortNon20: true,
	}})
	client := loginRaw(t, server)

	// a transfer that cannot be opened names the file and the driver's error
	client.cmd(StatusEnteringEPSV, "EPSV")
	msg := client.cmd(StatusActionNotTaken, "RETR fail-to-open.bin")
	require.Equal(t, "Could not access /fail-to-open.bin: "+errFailOpen.Error(), msg)

	// an active connection that cannot be made says so, without the
	// socket error (which names the server's addresses)
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)

	port := listener.Addr().(*net.TCPAddr).Port
	require.NoError(t, listener.Close())
	client.cmd(StatusOK, "EPRT |1|127.0.0.1|%d|", port)
	_, err = client.text.Cmd("NLST")
	require.NoError(t, err)

	msg = client.expect(StatusCannotOpenDataConnection)
	require.Equal(t, "network error: could not establish active connection", msg)

	// an upload whose data copy and close both fail is answered with the
	// upload's own (Close) error: it is the outcome the client must learn
	msg = uploadRaw(t, client, "fail-to-write-fail-to-close.bin", "some data")
	require.Equal(t, "Issue during transfer: "+errFailClose.Error(), msg)
}

// uploadRaw stores content under name over a passive data connection and
// returns the text of the transfer's final reply, which must be 550.
func uploadRaw(t *testing.T, client *rawClient, name, content string) string {
	t.Helper()

	port := client.epsv()

	data, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err)

	_, err = client.text.Cmd("STOR %s", name)
	require.NoError(t, err)
	client.expect(StatusFileStatusOK)

	_, _ = io.WriteString(data, content)
	require.NoError(t, data.Close())

	return client.expect(StatusActionNotTaken)
}

// Patch 5: FEAT lists "HASH" with its algorithms in a stable order, and the
// path is the whole parameter, resolved against the current directory.
func TestPatchHASH(t *testing.T) {
	driver := &TestServerDriver{Settings: &Settings{EnableHASH: true}}
	server := NewTestServerWithTestDriver(t, driver)
	client := loginRaw(t, server)

	feat := client.cmd(StatusSystemStatus, "FEAT")
	require.Contains(t, feat, "\n HASH CRC32;MD5;SHA-1;SHA-256*;SHA-512\n")

	require.NoError(t, os.MkdirAll(filepath.Join(driver.serverDir, "sub dir"), 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(driver.serverDir, "sub dir", "a file.txt"), []byte("hello"), 0o600))

	client.cmd(StatusFileOK, `CWD sub dir`)

	const sha256Hello = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
	msg := client.cmd(StatusFileStatus, "HASH a file.txt")
	require.Contains(t, msg, "SHA-256 0-5 "+sha256Hello)

	msg = client.cmd(StatusFileOK, "XSHA256 a file.txt 0 5")
	require.Contains(t, msg, sha256Hello)
}

// Patch 6: CloseWithMessage sends one reply and closes the session, also
// while the session answers its own commands (run with -race) and over TLS.
func TestPatchCloseWithMessage(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			driver := &TestServerDriver{TLS: useTLS}
			server := NewTestServerWithTestDriver(t, driver)
			client := dialRaw(t, server)

			if useTLS {
				client.cmd(StatusAuthAccepted, "AUTH TLS")
				tlsConn := tls.Client(client.conn, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // test certificate
				client.text = textproto.NewConn(tlsConn)
			}

			client.cmd(StatusUserOK, "USER "+authUser)
			client.cmd(StatusUserLoggedIn, "PASS "+authPass)

			// the session answers NOOPs while another goroutine closes it
			var wg sync.WaitGroup
			wg.Add(1)

			go func() {
				defer wg.Done()

				for range 50 {
					if _, err := client.text.Cmd("NOOP"); err != nil {
						return
					}
				}
			}()

			driver.clientMU.Lock()
			closer, ok := driver.Clients[0].(interface{ CloseWithMessage(int, string) error })
			driver.clientMU.Unlock()
			require.True(t, ok, "the ClientContext has no CloseWithMessage")
			require.NoError(t, closer.CloseWithMessage(StatusServiceNotAvailable, "shutting down"))
			wg.Wait()

			var lines []string

			for {
				line, err := client.text.ReadLine()
				if err != nil {
					break
				}

				lines = append(lines, line)
			}

			require.NotEmpty(t, lines)
			require.Equal(t, "421 shutting down", lines[len(lines)-1])

			for _, line := range lines[:len(lines)-1] {
				require.Equal(t, "200 OK", line)
			}
		})
	}
}

// Patch 7: Close from another goroutine and the session's own end do not race
// (run with -race), and a PASV that cannot tell an address closes its
// listener, so the next passive command can use the port again.
func TestPatchDisconnectAndPASVListener(t *testing.T) {
	t.Run("close races with QUIT", func(t *testing.T) {
		driver := &TestServerDriver{}
		server := NewTestServerWithTestDriver(t, driver)

		for range 10 {
			client := loginRaw(t, server)

			driver.clientMU.Lock()
			cc := driver.Clients[len(driver.Clients)-1]
			driver.clientMU.Unlock()

			done := make(chan struct{})

			go func() {
				defer close(done)

				_ = cc.Close()
			}()

			_, _ = client.text.Cmd("QUIT")
			<-done
		}
	})

	t.Run("PASV without an address frees its port", func(t *testing.T) {
		probe, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)

		port := probe.Addr().(*net.TCPAddr).Port
		require.NoError(t, probe.Close())

		errNoAddress := errors.New("no public address")
		server := NewTestServerWithTestDriver(t, &TestServerDriver{Settings: &Settings{
			PassiveTransferPortRange: PortRange{Start: port, End: port},
			PublicIPResolver:         func(ClientContext) (string, error) { return "", errNoAddress },
		}})
		client := loginRaw(t, server)

		client.cmd(StatusServiceNotAvailable, "PASV")
		msg := client.cmd(StatusEnteringEPSV, "EPSV")
		require.Contains(t, msg, fmt.Sprintf("(|||%d|)", port))
	})
}

// Patch 8: STAT of a directory lists its entries (upstream printed a literal
// "%s" before each).
func TestPatchSTATDirectory(t *testing.T) {
	driver := &TestServerDriver{}
	server := NewTestServerWithTestDriver(t, driver)
	require.NoError(t, os.WriteFile(filepath.Join(driver.serverDir, "a.txt"), []byte("hello"), 0o600))

	client := loginRaw(t, server)
	msg := client.cmd(StatusDirectoryStatus, "STAT /")

	lines := strings.Split(msg, "\n")
	require.Len(t, lines, 3, msg)
	require.Regexp(t, `^ -rw-------? 1 ftp ftp +5 .* a\.txt$`, lines[1])
}

// Patch 9: a failed CWD names the directory, as the other replies do.
func TestPatchCWDNamesDirectory(t *testing.T) {
	client := loginRaw(t, NewTestServer(t, false))
	msg := client.cmd(StatusActionNotTaken, "CWD missing")
	require.True(t, strings.HasPrefix(msg, "Can't change directory to /missing: "), msg)
}

// Patch 10: AUTH without a TLS config is not implemented (502, RFC 2228).
func TestPatchAUTHWithoutTLS(t *testing.T) {
	client := dialRaw(t, NewTestServer(t, false))
	client.cmd(StatusCommandNotImplemented, "AUTH TLS")
	client.cmd(StatusUserOK, "USER "+authUser) // the session goes on in clear
}

// Patch 11: control characters of the client's text are not echoed back;
// each becomes '?', and UTF-8 names are kept.
func TestPatchControlCharactersInReplies(t *testing.T) {
	client := loginRaw(t, NewTestServer(t, false))

	_, err := fmt.Fprintf(client.conn, "CWD é\x00\x1b[2J\rx\x7f\r\n")
	require.NoError(t, err)

	line, err := client.text.ReadLine()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(line, "550 Can't change directory to /é??[2J?x?: "), line)
	require.False(t, strings.ContainsFunc(line, func(r rune) bool { return r < 0x20 || r == 0x7f }), line)

	require.Equal(t, "a?b?c", replySafe("a\nb\tc"))
	require.Equal(t, "ünïcode", replySafe("ünïcode"))
}

// zeroDirTimes is a driver whose directories have no known modification
// time (a zero ModTime), as S3 has none for a directory without a marker.
type zeroDirTimes struct {
	*TestClientDriver
}

type zeroTime struct{ os.FileInfo }

func (zeroTime) ModTime() time.Time { return time.Time{} }

func zeroIfDir(info os.FileInfo) os.FileInfo {
	if info.IsDir() {
		return zeroTime{info}
	}

	return info
}

func (d zeroDirTimes) Stat(name string) (os.FileInfo, error) {
	info, err := d.TestClientDriver.Stat(name)
	if err != nil {
		return nil, err
	}

	return zeroIfDir(info), nil
}

func (d zeroDirTimes) ReadDir(name string) ([]os.FileInfo, error) {
	infos, err := afero.ReadDir(d.TestClientDriver, name)
	for i := range infos {
		infos[i] = zeroIfDir(infos[i])
	}

	return infos, err
}

// Patch 12: a zero ModTime is unknown: MDTM answers 550, MLST and MLSD leave
// the modify fact out, LIST shows the listing's time (never 0001 or 1970).
func TestPatchUnknownModTime(t *testing.T) {
	driver := &TestServerDriver{}
	driver.AuthProvider = func(string, string) (ClientDriver, error) {
		return zeroDirTimes{NewTestClientDriver(driver)}, nil
	}
	server := NewTestServerWithTestDriver(t, driver)
	require.NoError(t, os.Mkdir(filepath.Join(driver.serverDir, "dir"), 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(driver.serverDir, "f.txt"), []byte("x"), 0o600))

	client := loginRaw(t, server)
	msg := client.cmd(StatusActionNotTaken, "MDTM dir")
	require.Equal(t, "/dir: no modification time is known", msg)
	client.cmd(StatusFileStatus, "MDTM f.txt")

	msg = client.cmd(StatusFileOK, "MLST dir")
	require.Contains(t, msg, "\n Type=dir;Size=")
	require.NotContains(t, msg, "Modify=")

	mlsd := listRawData(t, client, "MLSD")
	require.Regexp(t, `(?m)^Type=dir;Size=\d+; dir\r$`, mlsd)
	require.Regexp(t, `(?m)^Type=file;Size=1;Modify=\d{14}; f\.txt\r$`, mlsd)

	before := time.Now()
	list := listRawData(t, client, "LIST")
	after := time.Now()
	require.NotContains(t, list, "0001")
	require.NotContains(t, list, "1970")
	require.True(t, strings.Contains(list, before.Format(" Jan _2 15:04 dir")) ||
		strings.Contains(list, after.Format(" Jan _2 15:04 dir")), list)
}

// listRawData runs a listing command over a passive data connection.
func listRawData(t *testing.T, client *rawClient, command string) string {
	t.Helper()

	port := client.epsv()

	data, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err)

	_, err = client.text.Cmd("%s", command)
	require.NoError(t, err)
	client.expect(StatusFileStatusOK)

	content, err := io.ReadAll(data)
	require.NoError(t, err)
	require.NoError(t, data.Close())
	client.expect(StatusClosingDataConn)

	return string(content)
}

// errMidRead is the error of a file that fails after its first bytes.
var errMidRead = errors.New("storage failed mid-read")

// transferSides is a driver whose files report the largest read asked of
// them, and fail mid-read when their name says so.
type transferSides struct {
	*TestClientDriver
	mu      sync.Mutex
	maxRead int
}

type sideFile struct {
	afero.File
	driver *transferSides
	read   int
}

func (d *transferSides) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	file, err := d.TestClientDriver.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}

	return &sideFile{File: file, driver: d}, nil
}

func (f *sideFile) Read(p []byte) (int, error) {
	f.driver.mu.Lock()
	f.driver.maxRead = max(f.driver.maxRead, len(p))
	f.driver.mu.Unlock()

	if strings.Contains(f.Name(), "fail-mid-read") && f.read > 0 {
		return 0, errMidRead
	}

	n, err := f.File.Read(p)
	f.read += n

	return n, err
}

// retrRaw starts RETR of name over a passive data connection and returns
// the data connection.
func retrRaw(t *testing.T, client *rawClient, name string) *net.TCPConn {
	t.Helper()

	port := client.epsv()

	data, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err)

	_, err = client.text.Cmd("RETR %s", name)
	require.NoError(t, err)
	client.expect(StatusFileStatusOK)

	return data.(*net.TCPConn)
}

// Patch 19: a download that fails while data moves is answered 451 when the
// file failed and 426 when the data connection did (upstream: 550 for
// both), and the data is copied through a large buffer (upstream: the 32 KiB
// of net.TCPConn's ReadFrom).
func TestPatchTransferFailureCodes(t *testing.T) {
	driver := &TestServerDriver{}
	sides := &transferSides{}
	driver.AuthProvider = func(string, string) (ClientDriver, error) {
		sides.TestClientDriver = NewTestClientDriver(driver)

		return sides, nil
	}
	server := NewTestServerWithTestDriver(t, driver)
	big := make([]byte, 4<<20)
	require.NoError(t, os.WriteFile(filepath.Join(driver.serverDir, "big.bin"), big, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(driver.serverDir, "fail-mid-read.bin"), big, 0o600))

	client := loginRaw(t, server)

	data := retrRaw(t, client, "big.bin")
	got, err := io.ReadAll(data)
	require.NoError(t, err)
	require.Len(t, got, len(big))
	client.expect(StatusClosingDataConn)
	require.Equal(t, transferBufferSize, sides.maxRead, "the largest read of the file")

	data = retrRaw(t, client, "fail-mid-read.bin")
	got, err = io.ReadAll(data)
	require.NoError(t, err)
	require.Less(t, len(got), len(big))
	msg := client.expect(StatusLocalError)
	require.Contains(t, msg, errMidRead.Error())

	data = retrRaw(t, client, "big.bin")
	require.NoError(t, data.SetLinger(0))
	require.NoError(t, data.Close()) // RST: the server's writes fail
	client.expect(StatusTransferAborted)
}

// pagedLister is a driver whose listings come in pages of names: page i
// is handed out only once the test has sent true on next (that it has read
// the lines of the page before), or fails with errPage at page failAt.
type pagedLister struct {
	*TestClientDriver
	pages  [][]string
	next   chan bool
	failAt int
	asked  int
	closed atomic.Bool
}

var errPage = errors.New("page failed")

func (d *pagedLister) ListDir(string) (DirLister, error) { return d, nil }

func (d *pagedLister) Next() ([]os.FileInfo, error) {
	if d.asked > 0 && !<-d.next {
		return nil, io.EOF
	}

	if d.asked == d.failAt {
		return nil, errPage
	}

	if d.asked == len(d.pages) {
		return nil, io.EOF
	}

	var page []os.FileInfo
	for _, name := range d.pages[d.asked] {
		page = append(page, namedFile(name))
	}
	d.asked++

	return page, nil
}

func (d *pagedLister) Close() error {
	d.closed.Store(true)

	return nil
}

type namedFile string

func (n namedFile) Name() string       { return string(n) }
func (n namedFile) Size() int64        { return 1 }
func (n namedFile) Mode() os.FileMode  { return 0o644 }
func (n namedFile) ModTime() time.Time { return time.Unix(1e9, 0) }
func (n namedFile) IsDir() bool        { return false }
func (n namedFile) Sys() any           { return nil }

// Patch 20: with ClientDriverExtensionFileLister, LIST, NLST and MLSD write
// each page to the data connection before asking for the next (page 2 is
// handed out only once the client has read page 1), and a page that fails
// is answered 451 after the pages before it.
func TestPatchPagedListing(t *testing.T) {
	pages := [][]string{{"a", "b"}, {"c"}, {"d", "e"}}
	for _, command := range []string{"LIST", "NLST", "MLSD"} {
		for _, failAt := range []int{-1, 1} {
			driver := &TestServerDriver{}
			lister := &pagedLister{pages: pages, next: make(chan bool), failAt: failAt}
			driver.AuthProvider = func(string, string) (ClientDriver, error) {
				lister.TestClientDriver = NewTestClientDriver(driver)

				return lister, nil
			}
			server := NewTestServerWithTestDriver(t, driver)
			client := loginRaw(t, server)

			port := client.epsv()

			data, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			require.NoError(t, err)
			require.NoError(t, data.SetReadDeadline(time.Now().Add(10*time.Second)))

			_, err = client.text.Cmd("%s", command)
			require.NoError(t, err)
			client.expect(StatusFileStatusOK)

			lines := textproto.NewReader(bufio.NewReader(data))
			for i, page := range pages {
				if i == failAt {
					break
				}
				if i > 0 {
					lister.next <- true
				}
				for _, name := range page {
					line, err := lines.ReadLine()
					require.NoError(t, err, "%s: page %d not sent before page %d was asked for", command, i, i+1)
					require.True(t, strings.HasSuffix(line, name), "%s: line %q, want %s", command, line, name)
				}
			}

			if failAt < 0 {
				lister.next <- true
				_, err = lines.ReadLine()
				require.ErrorIs(t, err, io.EOF)
				client.expect(StatusClosingDataConn)
			} else {
				lister.next <- true
				msg := client.expect(StatusLocalError)
				require.Contains(t, msg, errPage.Error())
			}

			require.NoError(t, data.Close())
			require.Eventually(t, func() bool { return lister.closed.Load() }, 5*time.Second, 10*time.Millisecond)
		}
	}
}

// endDriver serves uploads to a memory file system and reports how each
// ends on events: "stored" or "refused: <reason>" from the file's Close
// (refused when TransferError came first), and "disconnected" from
// ClientDisconnected. With hold, Close first sends "closing" and waits for
// hold.
type endDriver struct {
	*TestServerDriver
	events chan string
	hold   chan struct{}
}

// newEndServer starts a server on an endDriver whose log messages go to logs
// (nil: discarded), with its settings changed by configure.
func newEndServer(t *testing.T, hold chan struct{}, logs chan string, configure ...func(*Settings)) (*FtpServer, *endDriver) {
	t.Helper()

	driver := &endDriver{events: make(chan string, 100), hold: hold}
	driver.TestServerDriver = &TestServerDriver{AuthProvider: func(_, _ string) (ClientDriver, error) {
		return &endFs{Fs: afero.NewMemMapFs(), driver: driver}, nil
	}}
	driver.Init()

	for _, c := range configure {
		c(driver.Settings)
	}

	var handler slog.Handler = slog.DiscardHandler
	if logs != nil {
		handler = messageHandler(logs)
	}

	return NewTestServerWithDriverAndLogger(t, driver, slog.New(handler)), driver
}

func (d *endDriver) ClientDisconnected(ClientContext) { d.events <- "disconnected" }

// next returns the next event, failing the test after 10 s.
func (d *endDriver) next(t *testing.T) string {
	t.Helper()

	select {
	case e := <-d.events:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event from the driver")

		return ""
	}
}

// endFs gives uploads an endFile.
type endFs struct {
	afero.Fs
	driver *endDriver
}

func (f *endFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	if strings.Contains(name, "busy") {
		return nil, fmt.Errorf("%w: try again", ErrFileUnavailable)
	}

	file, err := f.Fs.OpenFile(name, flag, perm)
	if err != nil || flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return file, err //nolint:wrapcheck
	}

	if strings.Contains(name, "told") {
		return &toldFile{endFile{File: file, driver: f.driver}}, nil
	}

	return &endFile{File: file, driver: f.driver}, nil
}

// toldFile is an endFile told when its data has ended (FileTransferDataEnd).
type toldFile struct{ endFile }

func (f *toldFile) DataEnded() { f.driver.events <- "data ended" }

// AllocateSpace accepts ALLO.
func (f *endFs) AllocateSpace(int) error { return nil }

// endFile is an upload that reports how it ends.
type endFile struct {
	afero.File
	driver  *endDriver
	refused error // from TransferError, on the transfer's goroutine as Close
}

func (f *endFile) TransferError(err error) { f.refused = err }

func (f *endFile) Close() error {
	if f.driver.hold != nil {
		f.driver.events <- "closing"
		<-f.driver.hold
	}

	if f.refused != nil {
		f.driver.events <- "refused: " + f.refused.Error()
	} else {
		f.driver.events <- "stored"
	}

	return f.File.Close() //nolint:wrapcheck
}

// messageHandler is a slog.Handler that sends each record's message to
// msgs, or drops it if nobody reads.
type messageHandler chan string

func (h messageHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h messageHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h messageHandler) WithGroup(string) slog.Handler            { return h }

func (h messageHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h <- r.Message:
	default:
	}

	return nil
}

// storRaw opens a passive data connection and starts STOR (or APPE) of name
// on it.
func storRaw(t *testing.T, client *rawClient, command, name string) net.Conn {
	t.Helper()

	port := client.epsv()

	data, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err)

	t.Cleanup(func() { _ = data.Close() })

	_, err = client.text.Cmd("%s %s", command, name)
	require.NoError(t, err)
	client.expect(StatusFileStatusOK)

	return data
}

// Patch 14: an upload whose data connection reached end of file while the
// control connection was open is completed before the session ends, even
// if the client hangs up meanwhile: ClientDisconnected comes after the
// upload's Close. (Without the patch it came at once, and a driver that
// cancels the session there lost the upload.)
func TestPatchUploadEndBeforeHangUp(t *testing.T) {
	for i := range 5 {
		hold, logs := make(chan struct{}), make(chan string, 100)
		server, driver := newEndServer(t, hold, logs)
		client := loginRaw(t, server)
		data := storRaw(t, client, "STOR", fmt.Sprintf("file%d", i))
		_, err := io.WriteString(data, "complete")
		require.NoError(t, err)
		require.NoError(t, data.Close())
		require.Equal(t, "closing", driver.next(t))
		require.NoError(t, client.conn.Close())

		// Release the upload once the server has seen the hang-up: it says
		// so (patched) or ends the session (unpatched).
		ended := false
		for seen := false; !seen; {
			select {
			case msg := <-logs:
				seen = strings.Contains(msg, "completing the upload first")
			case e := <-driver.events:
				require.Equal(t, "disconnected", e, "iteration %d", i)
				seen, ended = true, true
			case <-time.After(10 * time.Second):
				t.Fatal("the server did not see the hang-up")
			}
		}
		close(hold)
		require.False(t, ended, "iteration %d: the session ended before the upload completed", i)
		require.Equal(t, "stored", driver.next(t), "iteration %d", i)
		require.Equal(t, "disconnected", driver.next(t), "iteration %d", i)
	}
}

// Patch 14: ALLO announces the size of the next upload; another size is
// refused, 552 as soon as it is exceeded, 426 when the data ends early. For
// STOR after REST the size is the whole file's, for APPE the appended
// bytes'; TYPE A transfers are not checked; ALLO applies to one transfer.
func TestPatchALLOSize(t *testing.T) {
	for _, tc := range []struct {
		name     string
		commands []string // sent before the transfer
		transfer string   // STOR or APPE
		data     string
		code     int
		event    string
	}{
		{"exact", []string{"ALLO 10"}, "STOR", "0123456789", StatusClosingDataConn, "stored"},
		{"short", []string{"ALLO 10"}, "STOR", "012345678", StatusTransferAborted, "refused: the data connection ended before the size announced by ALLO: the file ends at byte 9, ALLO announced 10"},
		{"long", []string{"ALLO 10"}, "STOR", "0123456789a", StatusActionAborted, "refused: storage limit exceeded: the upload is larger than the 10 bytes announced by ALLO"},
		{"resume", []string{"ALLO 10", "REST 4"}, "STOR", "456789", StatusClosingDataConn, "stored"},
		{"resume long", []string{"REST 4", "ALLO 10"}, "STOR", "4567890", StatusActionAborted, "refused: storage limit exceeded: the upload is larger than the 10 bytes announced by ALLO"},
		{"append", []string{"ALLO 3"}, "APPE", "abc", StatusClosingDataConn, "stored"},
		{"append short", []string{"ALLO 3"}, "APPE", "ab", StatusTransferAborted, "refused: the data connection ended before the size announced by ALLO: the file ends at byte 2, ALLO announced 3"},
		{"ASCII", []string{"TYPE A", "ALLO 10"}, "STOR", "01234", StatusClosingDataConn, "stored"},
		{"one transfer", nil, "STOR", "01234", StatusClosingDataConn, "stored"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server, driver := newEndServer(t, nil, nil)
			client := loginRaw(t, server)

			data := storRaw(t, client, "STOR", "file")
			_, err := io.WriteString(data, "0123456789")
			require.NoError(t, err)
			require.NoError(t, data.Close())
			client.expect(StatusClosingDataConn)
			require.Equal(t, "stored", driver.next(t))

			if tc.name == "one transfer" {
				client.cmd(StatusOK, "ALLO 3")
				data = storRaw(t, client, "STOR", "file")
				_, err = io.WriteString(data, "abc")
				require.NoError(t, err)
				require.NoError(t, data.Close())
				client.expect(StatusClosingDataConn)
				require.Equal(t, "stored", driver.next(t))
			}

			for _, command := range tc.commands {
				code, msg := client.send("%s", command)
				require.Less(t, code, 400, "%s: %d %s", command, code, msg)
			}

			data = storRaw(t, client, tc.transfer, "file")
			_, err = io.WriteString(data, tc.data)
			require.NoError(t, err)
			require.NoError(t, data.Close())
			client.expect(tc.code)
			require.Equal(t, tc.event, driver.next(t))
		})
	}

	t.Run("refused", func(t *testing.T) {
		server, _ := newEndServer(t, nil, nil)
		client := loginRaw(t, server)
		client.cmd(StatusSyntaxErrorParameters, "ALLO -1")
		client.cmd(StatusOK, "ALLO 3")
		client.cmd(StatusFileActionPending, "REST 4")
		client.cmd(StatusEnteringEPSV, "EPSV")
		client.cmd(StatusSyntaxErrorParameters, "STOR file")
	})
}

// Patch 15: ErrFileUnavailable is answered 450.
func TestPatchFileUnavailable(t *testing.T) {
	server, _ := newEndServer(t, nil, nil)
	client := loginRaw(t, server)
	client.cmd(StatusEnteringEPSV, "EPSV")
	client.cmd(StatusFileActionNotTaken, "STOR busy")
}

// reasonDriver records the DisconnectReason of each session that ends.
type reasonDriver struct {
	TestServerDriver
	reasons chan error
}

func (d *reasonDriver) ClientDisconnected(cc ClientContext) {
	d.TestServerDriver.ClientDisconnected(cc)
	d.reasons <- cc.(interface{ DisconnectReason() error }).DisconnectReason()
}

// Patch 16: a command line must be complete within the idle timeout: a
// client sending a byte at a time, never a newline, is closed with 421 like
// a silent one (upstream took the bytes read at the deadline as a command
// and waited again); the driver is told why, as for a line over 4,096
// bytes; a line split across reads, and one ending in LF only, still work.
func TestPatchCommandLines(t *testing.T) {
	driver := &reasonDriver{TestServerDriver: TestServerDriver{Settings: &Settings{IdleTimeout: 1}}, reasons: make(chan error, 10)}
	driver.Init()
	server := NewTestServerWithDriver(t, driver)

	t.Run("slow line", func(t *testing.T) {
		client := loginRaw(t, server)
		closed := make(chan string)

		go func() {
			b, _ := io.ReadAll(client.conn)
			closed <- string(b)
		}()

		for range 6 {
			select {
			case reply := <-closed:
				require.True(t, strings.HasPrefix(reply, "421 "), "reply %q", reply)
				require.ErrorIs(t, <-driver.reasons, ErrCommandLineIncomplete)

				return
			case <-time.After(500 * time.Millisecond):
			}

			_, _ = client.conn.Write([]byte("N"))
		}

		t.Fatalf("a byte every 500 ms held the control connection for 3 s with a 1 s idle timeout")
	})

	t.Run("line too long", func(t *testing.T) {
		client := dialRaw(t, server)
		_, _ = client.conn.Write([]byte("USER " + strings.Repeat("A", 5000)))
		_, _ = io.ReadAll(client.conn) // closed, maybe reset (unread bytes)
		require.ErrorIs(t, <-driver.reasons, ErrCommandLineTooLong)
	})

	t.Run("split line", func(t *testing.T) {
		client := loginRaw(t, server)
		_, err := client.conn.Write([]byte("NO"))
		require.NoError(t, err)
		time.Sleep(50 * time.Millisecond)
		_, err = client.conn.Write([]byte("OP\n"))
		require.NoError(t, err)
		client.expect(StatusOK)
		client.cmd(StatusOK, "NOOP")
	})
}

// unreachable is a driver whose storage cannot be reached for names
// under /down: every call fails with an error wrapping ErrTransient.
type unreachable struct {
	*TestClientDriver
}

var errUnreachable = fmt.Errorf("storage unreachable: %w", ErrTransient)

func down(name string) bool { return strings.HasPrefix(name, "/down") }

func (d unreachable) Stat(name string) (os.FileInfo, error) {
	if down(name) {
		return nil, errUnreachable
	}

	return d.TestClientDriver.Stat(name)
}

func (d unreachable) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	if down(name) {
		return nil, errUnreachable
	}

	return d.TestClientDriver.OpenFile(name, flag, perm)
}

func (d unreachable) Remove(name string) error {
	if down(name) {
		return errUnreachable
	}

	return d.TestClientDriver.Remove(name)
}

func (d unreachable) Mkdir(name string, perm os.FileMode) error {
	if down(name) {
		return errUnreachable
	}

	return d.TestClientDriver.Mkdir(name, perm)
}

// Patch 17: a driver error wrapping ErrTransient is answered 451 (try again)
// where upstream answered 550 (permanent), and 421 to PASS; other errors
// keep their codes.
func TestPatchTransientErrors(t *testing.T) {
	driver := &TestServerDriver{}
	driver.AuthProvider = func(user, _ string) (ClientDriver, error) {
		if user == "down" {
			return nil, fmt.Errorf("user store unreachable: %w", ErrTransient)
		}

		return unreachable{NewTestClientDriver(driver)}, nil
	}
	server := NewTestServerWithTestDriver(t, driver)
	client := loginRaw(t, server)

	for _, tc := range []struct {
		command string
		code    int
	}{
		{"CWD /down", StatusLocalError},
		{"MKD /down", StatusLocalError},
		{"DELE /down", StatusLocalError},
		{"SIZE /down", StatusLocalError},
		{"MDTM /down", StatusLocalError},
		{"RNFR /down", StatusLocalError},
		{"DELE /missing", StatusActionNotTaken},
		{"CWD /missing", StatusActionNotTaken},
	} {
		msg := client.cmd(tc.code, "%s", tc.command)
		if tc.code == StatusLocalError {
			require.Contains(t, msg, errUnreachable.Error(), tc.command)
		}
	}

	client.cmd(StatusEnteringEPSV, "EPSV")
	msg := client.cmd(StatusLocalError, "RETR /down.bin")
	require.Contains(t, msg, errUnreachable.Error())

	login := dialRaw(t, server)
	login.cmd(StatusUserOK, "USER down")
	msg = login.cmd(StatusServiceNotAvailable, "PASS x")
	require.Contains(t, msg, "user store unreachable")
}

// Patch 18: a connection to a session's passive port from another address
// is closed and the transfer waits for the client's own: the thief gets
// nothing and the client's transfer succeeds (upstream failed it with 425).
func TestPatchPassiveTheft(t *testing.T) {
	driver := &TestServerDriver{Settings: &Settings{PasvConnectionsCheck: IPMatchRequired}}
	server := NewTestServerWithTestDriver(t, driver)
	require.NoError(t, os.WriteFile(filepath.Join(driver.serverDir, "f.txt"), []byte("the client's data"), 0o600))

	client := loginRaw(t, server)
	port := client.epsv()

	addr := fmt.Sprintf("127.0.0.1:%d", port)
	thief, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).Dial("tcp", addr)
	require.NoError(t, err)

	defer func() { _ = thief.Close() }()

	data, err := net.Dial("tcp", addr)
	require.NoError(t, err)

	_, err = client.text.Cmd("RETR f.txt")
	require.NoError(t, err)
	client.expect(StatusFileStatusOK)

	got, err := io.ReadAll(data)
	require.NoError(t, err)
	require.Equal(t, "the client's data", string(got))
	client.expect(StatusClosingDataConn)

	_ = thief.SetReadDeadline(time.Now().Add(5 * time.Second))
	stolen, _ := io.ReadAll(thief) // closed (or reset) by the server
	require.Empty(t, stolen)
}

// Patch 23: with LISTArgsAlwaysOptions, "LIST -la" is an option, with no
// Stat of "-la", even beside a file so named (which is listed without the
// setting); "LIST ./-la" lists the file.
func TestPatchListOptionNotStatted(t *testing.T) {
	driver := &TestServerDriver{Settings: &Settings{LISTArgsAlwaysOptions: true}}
	server := NewTestServerWithTestDriver(t, driver)
	require.NoError(t, os.WriteFile(filepath.Join(driver.serverDir, "-la"), []byte("x"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(driver.serverDir, "a.txt"), []byte("x"), 0o600))

	client := loginRaw(t, server)
	list := listRawData(t, client, "LIST -la")
	require.Contains(t, list, " a.txt\r\n", list)

	list = listRawData(t, client, "LIST ./-la")
	require.Contains(t, list, " -la\r\n", list)
	require.NotContains(t, list, "a.txt", list)
}

// chdirDriver answers CWD with Chdir (patch 24) and counts the Stats.
type chdirDriver struct {
	*TestClientDriver
	stats atomic.Int32
}

func (d *chdirDriver) Chdir(name string) error {
	switch name {
	case "/known":
		return nil
	case "/busy":
		return fmt.Errorf("%w: storage busy", ErrTransient)
	}

	return os.ErrNotExist
}

func (d *chdirDriver) Stat(name string) (os.FileInfo, error) {
	d.stats.Add(1)

	return d.TestClientDriver.Stat(name) //nolint:wrapcheck // test driver
}

// Patch 24: a driver with ClientDriverExtensionChdir answers CWD without a
// Stat: its nil enters the directory, its error is the 550 (451 when
// transient) reply's reason. Without it a CWD to a file is still refused.
func TestPatchChdir(t *testing.T) {
	driver := &TestServerDriver{}
	chdir := &chdirDriver{}
	driver.AuthProvider = func(string, string) (ClientDriver, error) {
		chdir.TestClientDriver = NewTestClientDriver(driver)

		return chdir, nil
	}
	client := loginRaw(t, NewTestServerWithTestDriver(t, driver))

	client.cmd(StatusFileOK, "CWD /known")
	require.Contains(t, client.cmd(StatusPathCreated, "PWD"), `"/known"`)
	require.Contains(t, client.cmd(StatusActionNotTaken, "CWD /missing"), "Can't change directory to /missing: file does not exist")
	require.Contains(t, client.cmd(StatusLocalError, "CWD /busy"), "storage busy")
	require.Contains(t, client.cmd(StatusPathCreated, "PWD"), `"/known"`)
	require.Zero(t, chdir.stats.Load(), "CWD called Stat")

	plain := &TestServerDriver{}
	server := NewTestServerWithTestDriver(t, plain)
	require.NoError(t, os.WriteFile(filepath.Join(plain.serverDir, "f.txt"), []byte("x"), 0o600))
	client = loginRaw(t, server)
	require.Contains(t, client.cmd(StatusActionNotTaken, "CWD /f.txt"), "Can't change directory to /f.txt: Not a Directory")
}

// countingPorts is a PasvPortGetter over a PortRange that counts its draws.
type countingPorts struct {
	PortRange
	fetches atomic.Int64
}

func (p *countingPorts) FetchNext() (int, int, bool) {
	p.fetches.Add(1)

	return p.PortRange.FetchNext()
}

// Patch 26: passive port candidates are drawn as they are tried, not all
// before the first (upstream drew up to 4,000 for a 1,000-port range for
// every PASV).
func TestPatchLazyPortCandidates(t *testing.T) {
	ports := &countingPorts{PortRange: PortRange{Start: 46000, End: 46999}}
	for range passivePortCandidates(ports) {
		break
	}
	require.EqualValues(t, 1, ports.fetches.Load(), "draws for the first candidate")

	ports.fetches.Store(0)
	seen := map[int]bool{}
	for candidate := range passivePortCandidates(ports) {
		require.False(t, seen[candidate.listenedPort], "port %d yielded twice", candidate.listenedPort)
		require.Equal(t, candidate.exposedPort, candidate.listenedPort)
		seen[candidate.listenedPort] = true
	}
	require.LessOrEqual(t, len(seen), 1000)
	require.Greater(t, len(seen), 900, "a full search tries most of the range")
	require.LessOrEqual(t, ports.fetches.Load(), int64(4000))

	small := &countingPorts{PortRange: PortRange{Start: 46000, End: 46001}}
	n := 0
	for range passivePortCandidates(small) {
		n++
	}
	require.Equal(t, 2, n, "a 2-port range yields both ports")
	require.LessOrEqual(t, small.fetches.Load(), int64(4*portSearchMinAttempts))

	driver := &TestServerDriver{}
	server := NewTestServerWithTestDriver(t, driver)
	pasv := &countingPorts{PortRange: PortRange{Start: 46000, End: 46999}}
	server.settings.PassiveTransferPortRange = pasv
	client := loginRaw(t, server)
	for range 5 {
		client.cmd(StatusEnteringPASV, "PASV")
	}
	require.LessOrEqual(t, pasv.fetches.Load(), int64(10), "draws for 5 PASV in a free range")
}

// listerFirstDriver lists directories page by page (one page) and counts
// its Stats.
type listerFirstDriver struct {
	*TestClientDriver
	stats atomic.Int32
	deny  atomic.Bool // ListDir refuses everything
}

func (d *listerFirstDriver) Stat(name string) (os.FileInfo, error) {
	d.stats.Add(1)

	return d.TestClientDriver.Stat(name) //nolint:wrapcheck // test driver
}

func (d *listerFirstDriver) ListDir(name string) (DirLister, error) {
	if d.deny.Load() {
		return nil, os.ErrPermission
	}

	dir, err := d.Open(name)
	if err != nil {
		return nil, err //nolint:wrapcheck // test driver
	}
	defer func() { _ = dir.Close() }()

	files, err := dir.Readdir(-1)
	if err != nil { // a file
		return nil, fmt.Errorf("%w: %w", os.ErrNotExist, err)
	}

	list := sliceLister(files)

	return &list, nil
}

// listLines sends a listing command on an EPSV data connection and
// returns its first reply's code and the lines received.
func listLines(t *testing.T, client *rawClient, command string) (int, []string) {
	t.Helper()

	port := client.epsv()

	data, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err)

	defer func() { _ = data.Close() }()
	require.NoError(t, data.SetReadDeadline(time.Now().Add(10*time.Second)))

	code, _ := client.send("%s", command)
	if code != StatusFileStatusOK {
		return code, nil
	}

	var lines []string

	reader := textproto.NewReader(bufio.NewReader(data))
	for {
		line, err := reader.ReadLine()
		if err != nil {
			break
		}

		lines = append(lines, line)
	}

	client.expect(StatusClosingDataConn)

	return code, lines
}

// Patch 27: a driver with ClientDriverExtensionFileLister is asked to list
// before any Stat: a directory costs no Stat; when it fails (a file,
// nothing, a refusal) the listing goes on in upstream's order, with its
// replies.
func TestPatchListerFirst(t *testing.T) {
	driver := &TestServerDriver{}
	lister := &listerFirstDriver{}
	driver.AuthProvider = func(string, string) (ClientDriver, error) {
		lister.TestClientDriver = NewTestClientDriver(driver)

		return lister, nil
	}
	server := NewTestServerWithTestDriver(t, driver)
	require.NoError(t, os.MkdirAll(filepath.Join(driver.serverDir, "dir"), 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(driver.serverDir, "dir", "a.txt"), []byte("x"), 0o600))
	client := loginRaw(t, server)

	for _, tt := range []struct {
		command   string
		deny      bool
		code      int
		lines     int
		wantStats int32
	}{
		{"LIST /dir", false, StatusFileStatusOK, 1, 0},
		{"NLST /dir", false, StatusFileStatusOK, 1, 0},
		{"MLSD /dir", false, StatusFileStatusOK, 1, 0},
		{"LIST /dir/a.txt", false, StatusFileStatusOK, 1, 1},
		{"MLSD /dir/a.txt", false, StatusActionNotTaken, 0, 1},
		{"LIST /missing", false, StatusFileActionNotTaken, 0, 1},
		{"LIST /dir/a.txt", true, StatusFileStatusOK, 1, 1}, // a file is listed as before
		{"LIST /dir", true, StatusFileActionNotTaken, 0, 1}, // the second ListDir's refusal
	} {
		lister.stats.Store(0)
		lister.deny.Store(tt.deny)
		code, lines := listLines(t, client, tt.command)
		require.Equal(t, tt.code, code, "%s (ListDir refusing: %v)", tt.command, tt.deny)
		require.Len(t, lines, tt.lines, "%s: %q", tt.command, lines)
		if tt.lines > 0 {
			require.Contains(t, lines[0], "a.txt", tt.command)
		}
		require.Equal(t, tt.wantStats, lister.stats.Load(), "%s: Stats", tt.command)
	}
}

// Patch 28: a reply is split into lines as bufio.Scanner split it, without
// allocating a Scanner and its 4 KiB buffer for every reply (upstream: 2
// allocations and 4 KiB more per reply, some four replies per file).
func TestPatchMessageLines(t *testing.T) {
	scanned := func(message string) []string { // upstream's getMessageLines
		lines := make([]string, 0, 1)
		sc := bufio.NewScanner(strings.NewReader(message))
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		if len(lines) == 0 {
			lines = append(lines, "")
		}
		return lines
	}
	for _, message := range []string{
		"", "\n", "\r\n", "Closing transfer connection", "one\ntwo", "one\r\ntwo\r\n",
		"a\rb\n", "first line\n\nsecond line\n\n", "\n\nx", "trailing\r",
	} {
		require.Equal(t, scanned(message), getMessageLines(message), "message %q", message)
	}
	allocs := testing.AllocsPerRun(100, func() { _ = getMessageLines("Closing transfer connection") })
	require.LessOrEqual(t, allocs, 1.0, "allocations to split a one-line reply")
}
