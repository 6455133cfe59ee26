//go:build linux

package ftpserver

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// tcpEstablished is the kernel's TCP_ESTABLISHED state (include/net/tcp_states.h).
const tcpEstablished = 1

// peerClosed reports whether the peer of conn has closed or reset it: its
// FIN or RST has reached this host, whether or not it was read. It looks
// through wrappers that expose the connection they wrap with NetConn (as
// *tls.Conn does) down to the TCP socket, and asks the kernel (TCP_INFO).
// A connection it cannot see into is taken as open. s3ftp patch.
func peerClosed(conn net.Conn) bool {
	for {
		inner, ok := conn.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}

		conn = inner.NetConn()
	}

	sysConn, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}

	raw, err := sysConn.SyscallConn()
	if err != nil {
		return false
	}

	state := tcpEstablished
	if err := raw.Control(func(fd uintptr) {
		if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			state = int(info.State)
		}
	}); err != nil {
		return true // closed here already
	}

	return state != tcpEstablished
}
