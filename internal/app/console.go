package app

import (
	"net"

	"github.com/praetorian/db-forge/console"
	"github.com/praetorian/db-forge/gateway"
)

// consoleFiles adapts the console's embedded files to the gateway's port.
type consoleFiles struct{ a *console.Assets }

func (c consoleFiles) ConsoleFile(name string) (gateway.ConsoleFile, bool) {
	f, ok := c.a.Lookup(name)
	return gateway.ConsoleFile{Body: f.Body, Gzip: f.Gzip, ContentType: f.ContentType, ETag: f.ETag}, ok
}

// consoleURL is the console's address on this host for the log: the
// listener's port on localhost when it listens on every address.
func consoleURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "/console"
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/console"
}
