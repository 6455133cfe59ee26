// Command tshark2transcript turns the control connection of a recorded FTP
// session into a device transcript draft for test/devices (see
// docs/devices.md). It reads tshark's fields on standard input:
//
//	tshark -r dev.pcapng -Y 'tcp.port==21 && tcp.len>0' -T fields \
//	    -e tcp.stream -e tcp.srcport -e tcp.payload |
//	    go run ./test/devices/tshark2transcript -port 21 > test/devices/testdata/NAME.txt
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"

	"github.com/s3ftp/s3ftp/test/devices"
)

func main() {
	port := flag.Int("port", 21, "the FTP server's control port in the capture")
	flag.Parse()
	w := bufio.NewWriter(os.Stdout)
	if err := devices.Convert(os.Stdin, w, *port); err != nil {
		fmt.Fprintln(os.Stderr, "tshark2transcript:", err)
		os.Exit(1)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "tshark2transcript:", err)
		os.Exit(1)
	}
}
