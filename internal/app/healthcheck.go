package app

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Healthcheck asks a gateway configured by environ for GET /health on its
// loopback address and returns the exit code for a container HEALTHCHECK:
// 0 healthy, 1 not. A FROM-scratch image has no curl; the binary checks
// itself.
func Healthcheck(environ []string, out io.Writer) int {
	listen := ":8000"
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "FORGE_LISTEN="); ok && v != "" {
			listen = v
		}
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		fmt.Fprintln(out, "healthcheck:", err)
		return 1
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + net.JoinHostPort(host, port) + "/health")
	if err != nil {
		fmt.Fprintln(out, "healthcheck:", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Fprintf(out, "%d %s\n", resp.StatusCode, body)
	if resp.StatusCode != http.StatusOK {
		return 1
	}
	return 0
}
