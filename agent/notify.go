package agent

import (
	"net"
	"os"
	"strings"
)

// SDNotify sends state ("READY=1", "RELOADING=1", "STOPPING=1") to the
// service manager when it asked for it (systemd's Type=notify sets
// $NOTIFY_SOCKET). The protocol is one datagram on a unix socket; an
// address starting with @ is in the abstract namespace. Without the
// variable it does nothing and reports false.
func SDNotify(state string) (bool, error) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return false, nil
	}
	if strings.HasPrefix(addr, "@") {
		addr = "\x00" + addr[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return false, err
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return false, err
	}
	return true, nil
}
