//go:build linux

package ftpserver

// Tests for s3ftp's patches that need Linux: the kernel tells there whether
// the peer's FIN has arrived (PATCHES.md, patch 14).

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// hangUpFirst half-closes conn and waits until the server has acknowledged
// the FIN, so that the server has it before anything the test sends next.
func hangUpFirst(t *testing.T, conn net.Conn) {
	t.Helper()

	tcp, ok := conn.(*net.TCPConn)
	require.True(t, ok)
	require.NoError(t, tcp.CloseWrite())

	raw, err := tcp.SyscallConn()
	require.NoError(t, err)

	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		var state uint8
		require.NoError(t, raw.Control(func(fd uintptr) {
			if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
				state = info.State
			}
		}))
		// FIN_WAIT2, TIME_WAIT, CLOSE: the FIN is acknowledged (include/net/tcp_states.h).
		if state == 5 || state == 6 || state == 7 {
			return
		}

		require.True(t, time.Now().Before(deadline), "FIN not acknowledged (state %d)", state)
	}
}

// Patch 14: an upload whose control connection was closed (without QUIT)
// before its data connection reached end of file is refused: the driver gets
// TransferError before Close. With a command queued behind the upload the
// session's read loop does not read the control connection's end, so the
// unpatched library always stored the upload then; without one it depended
// on timing. A client that sent QUIT before hanging up has its upload
// stored.
func TestPatchUploadEndAfterHangUp(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before string // sent on the control connection before hanging up
		want   string
	}{
		{"hang-up", "", "refused: "},
		{"hang-up with a command queued", "NOOP", "refused: " + errControlClosed.Error()},
		{"QUIT", "QUIT", "stored"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server, driver := newEndServer(t, nil, nil)
			for i := range 20 {
				client := loginRaw(t, server)
				data := storRaw(t, client, "STOR", fmt.Sprintf("file%d", i))
				_, err := io.WriteString(data, "the first half")
				require.NoError(t, err)

				if tc.before != "" {
					_, err = client.text.Cmd("%s", tc.before)
					require.NoError(t, err)
				}

				hangUpFirst(t, client.conn)
				require.NoError(t, data.Close())

				// The upload's end and the session's, in either order.
				events := []string{driver.next(t), driver.next(t)}
				slices.Sort(events)
				require.Equal(t, "disconnected", events[0], "iteration %d", i)
				require.True(t, strings.HasPrefix(events[1], tc.want), "iteration %d: %s, want %s", i, events[1], tc.want)
			}
		})
	}
}

// Patch 14: with UploadEndGrace, a control connection that closes just
// after the data's end of file (a killed client's kernel closes both, often
// the data connection first) refuses the upload too.
func TestPatchUploadEndGrace(t *testing.T) {
	server, driver := newEndServer(t, nil, nil, func(s *Settings) { s.UploadEndGrace = time.Second })

	for i := range 10 {
		client := loginRaw(t, server)
		data := storRaw(t, client, "STOR", fmt.Sprintf("file%d", i))
		_, err := io.WriteString(data, "the first half")
		require.NoError(t, err)
		require.NoError(t, data.Close())
		require.NoError(t, client.conn.Close())

		events := []string{driver.next(t), driver.next(t)}
		slices.Sort(events)
		require.Equal(t, "disconnected", events[0], "iteration %d", i)
		require.True(t, strings.HasPrefix(events[1], "refused: "), "iteration %d: %s", i, events[1])
	}
}

// Patch 25: a file with FileTransferDataEnd is told at the data's end of
// file, before the decision UploadEndGrace waits for: then stored if the
// client stays, refused if it hangs up within the grace; an upload whose
// size differs from ALLO's is refused without being told.
func TestPatchDataEnded(t *testing.T) {
	server, driver := newEndServer(t, nil, nil, func(s *Settings) { s.UploadEndGrace = time.Second })

	for _, hangUp := range []bool{false, true} {
		client := loginRaw(t, server)
		data := storRaw(t, client, "STOR", fmt.Sprintf("told-%v", hangUp))
		_, err := io.WriteString(data, "all of it")
		require.NoError(t, err)
		require.NoError(t, data.Close())
		require.Equal(t, "data ended", driver.next(t))

		if !hangUp {
			client.expect(StatusClosingDataConn)
			require.Equal(t, "stored", driver.next(t))

			continue
		}

		require.NoError(t, client.conn.Close())

		events := []string{driver.next(t), driver.next(t)}
		slices.Sort(events)
		require.Equal(t, "disconnected", events[0])
		require.True(t, strings.HasPrefix(events[1], "refused: "), events[1])
	}

	client := loginRaw(t, server)
	client.cmd(StatusOK, "ALLO 100")
	data := storRaw(t, client, "STOR", "told-short")
	_, err := io.WriteString(data, "short")
	require.NoError(t, err)
	require.NoError(t, data.Close())
	client.expect(StatusTransferAborted)
	require.True(t, strings.HasPrefix(driver.next(t), "refused: "))
}
