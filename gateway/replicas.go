package gateway

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Several replicas behind one load balancer (docs/kubernetes.md). The
// passive range is cut into Replicas slices; replica i answers PASV/EPSV
// with ports of slice i only, and listens on the ports of the other slices
// too: a data connection that the balancer sends there is relayed to the
// replica that owns the port (relay.go), which sees the client's address in
// the PROXY v2 header the relay sends first.

// peerIndexTemplate, in a single Peers item, stands for the replica index.
const peerIndexTemplate = "{index}"

// replicasWithDefaults checks the replica settings.
func (s *Settings) replicasWithDefaults() error {
	bad := func(field string, err error) error { return &SettingError{Field: field, Err: err} }
	if s.Replicas < 0 {
		return bad("Replicas", errors.New("must not be negative"))
	}
	nets, err := normalPrefixes("PeerNetworks", s.PeerNetworks)
	if err != nil {
		return err
	}
	s.PeerNetworks = nets
	if s.Replicas <= 1 {
		if s.ReplicaIndex != 0 {
			return bad("ReplicaIndex", fmt.Errorf("%d: must be 0 without replicas", s.ReplicaIndex))
		}
		return nil
	}
	if s.ReplicaIndex < 0 || s.ReplicaIndex >= s.Replicas {
		return bad("ReplicaIndex", fmt.Errorf("%d: must be 0-%d with %d replicas", s.ReplicaIndex, s.Replicas-1, s.Replicas))
	}
	if s.PassivePorts.IsZero() {
		return bad("PassivePorts", errors.New("a range is needed with several replicas"))
	}
	if n := s.PassivePorts.size(); n < s.Replicas {
		return bad("PassivePorts", fmt.Errorf("%d ports cannot be shared by %d replicas (at least one each)", n, s.Replicas))
	}
	if len(s.Peers) != s.Replicas {
		return bad("Peers", fmt.Errorf("%d given, want one per replica (%d)", len(s.Peers), s.Replicas))
	}
	for _, p := range s.Peers {
		if err := checkPeerHost(p); err != nil {
			return bad("Peers", err)
		}
	}
	if len(s.PeerNetworks) == 0 {
		return bad("PeerNetworks", errors.New("needed with several replicas: the networks the replicas connect from"))
	}
	return nil
}

// checkPeerHost reports whether host is a host name or an IP address
// without a port.
func checkPeerHost(host string) error {
	if host == "" || strings.ContainsAny(host, " /{}") {
		return fmt.Errorf("%q is not a host name or address", host)
	}
	if _, _, err := net.SplitHostPort(host); err == nil {
		return fmt.Errorf("%q: give the host only (relayed connections go to the port they arrived on)", host)
	}
	return nil
}

// ParsePeers returns the hosts of n replicas from items: either n hosts in
// index order, or one template in which "{index}" stands for the index
// (e.g. "s3ftp-{index}.s3ftp-peers.ftp.svc"). Empty items give nil.
func ParsePeers(items []string, n int) ([]string, error) {
	if len(items) == 1 && strings.Contains(items[0], peerIndexTemplate) {
		out := make([]string, n)
		for i := range out {
			out[i] = strings.ReplaceAll(items[0], peerIndexTemplate, strconv.Itoa(i))
		}
		return out, nil
	}
	for _, item := range items {
		if strings.Contains(item, peerIndexTemplate) {
			return nil, fmt.Errorf("%q: a %s template must be the only item", item, peerIndexTemplate)
		}
	}
	return items, nil
}

// size returns the number of ports of r.
func (r PortRange) size() int {
	if r.IsZero() {
		return 0
	}
	return r.End - r.Start + 1
}

// ReplicaSlice returns the ports of r that replica index of n owns: r cut
// into n consecutive slices, as equal as they come (the first ones one
// port shorter when the size is not a multiple of n). With n <= 1 it is r.
func (r PortRange) ReplicaSlice(index, n int) PortRange {
	if n <= 1 {
		return r
	}
	size := r.size()
	return PortRange{Start: r.Start + index*size/n, End: r.Start + (index+1)*size/n - 1}
}

// replicaOf returns the index of the replica of n that owns port, or -1
// when port is not in r.
func (r PortRange) replicaOf(port, n int) int {
	for i := range max(n, 1) {
		if sl := r.ReplicaSlice(i, n); port >= sl.Start && port <= sl.End {
			return i
		}
	}
	return -1
}
