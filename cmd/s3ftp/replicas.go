package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/s3ftp/s3ftp/gateway"
)

// validateReplicas parses the replica keys: the index (given, or from the
// host name), the peers (a list or an {index} template) and the peer
// networks. The gateway checks how they fit together.
func (c *loadedConfig) validateReplicas() error {
	var err error
	if c.peerNetworks, err = gateway.ParseCIDRs(c.PeerNetworks); err != nil {
		return fmt.Errorf("peer-networks: %w", err)
	}
	if c.peers, err = gateway.ParsePeers(c.Peers, c.Replicas); err != nil {
		return fmt.Errorf("peers: %w", err)
	}
	if c.Replicas <= 1 && c.ReplicaIndex == "" {
		return nil
	}
	if c.ReplicaIndex != "" {
		if c.replicaIndex, err = strconv.Atoi(strings.TrimSpace(c.ReplicaIndex)); err != nil {
			return fmt.Errorf("replica-index: %q is not an integer", c.ReplicaIndex)
		}
		return nil
	}
	host, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("replica-index: not given, and the host name is unknown: %w", err)
	}
	if c.replicaIndex, err = indexFromHostname(host); err != nil {
		return fmt.Errorf("replica-index: not given, and %w", err)
	}
	return nil
}

// indexFromHostname returns the ordinal of a StatefulSet pod's host name,
// NAME-I.
func indexFromHostname(host string) (int, error) {
	host, _, _ = strings.Cut(host, ".")
	i := strings.LastIndexByte(host, '-')
	digits := host[i+1:]
	n, err := strconv.Atoi(digits)
	if i < 0 || err != nil || strings.Trim(digits, "0123456789") != "" {
		return 0, fmt.Errorf("the host name %q does not end in -INDEX (a StatefulSet pod's name)", host)
	}
	return n, nil
}
