package agentmcp

import (
	"errors"
	"net"
	"net/url"
	"strings"
)

// Errors of CheckOrigin.
var (
	ErrForeignOrigin = errors.New("the request's Origin is neither this server nor an allowed origin")
	ErrRebinding     = errors.New("a request to a loopback address must name a loopback host")
)

// CheckOrigin refuses what a web page could make a browser send to the
// MCP endpoint: a cross-origin request (Origin neither the request's own
// Host nor one of allowed; "*" in allowed admits any), and, when the
// request reached a loopback address, a Host that is not a loopback name
// (DNS rebinding: a page of evil.example whose name now resolves to
// 127.0.0.1) unless it is the host of an allowed origin (a proxy on the
// same machine). A request without Origin (not a browser's) passes the first
// check. It is the MCP SDK's check, run by the gateway, which knows the
// listener's address that the SDK cannot see behind the fasthttp adaptor.
func CheckOrigin(origin, host string, loopback bool, allowed []string) error {
	if loopback && !loopbackHost(host) && !allowedHost(host, allowed) {
		return ErrRebinding
	}
	if origin == "" {
		return nil
	}
	for _, a := range allowed {
		if a == "*" || strings.TrimRight(a, "/") == origin {
			return nil
		}
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return ErrForeignOrigin
	}
	if !strings.EqualFold(u.Host, host) {
		return ErrForeignOrigin
	}
	return nil
}

// allowedHost: host is the host (and port) of one of the allowed origins
// ("*" names none): a proxy on the same machine that keeps the public Host
// reaches the gateway on a loopback address.
func allowedHost(host string, allowed []string) bool {
	for _, a := range allowed {
		if u, err := url.Parse(strings.TrimRight(a, "/")); err == nil && u.Host != "" && strings.EqualFold(u.Host, host) {
			return true
		}
	}
	return false
}

// loopbackHost: a Host header naming this machine (localhost, an address
// of 127.0.0.0/8, ::1), with or without a port.
func loopbackHost(host string) bool {
	h := host
	if sh, _, err := net.SplitHostPort(host); err == nil {
		h = sh
	} else if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if strings.EqualFold(h, "localhost") || strings.HasSuffix(strings.ToLower(h), ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
