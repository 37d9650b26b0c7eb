package agentmcp

import (
	"errors"
	"testing"
)

func TestCheckOrigin(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, origin, host string
		loopback           bool
		allowed            []string
		want               error
	}{
		{"no origin, public listener", "", "db.example:8000", false, nil, nil},
		{"no origin, loopback", "", "127.0.0.1:8000", true, nil, nil},
		{"localhost", "", "localhost:8000", true, nil, nil},
		{"sub.localhost", "", "app.localhost", true, nil, nil},
		{"ipv6 loopback", "", "[::1]:8000", true, nil, nil},
		{"rebinding", "", "evil.example:8000", true, nil, ErrRebinding},
		{"rebinding without port", "", "evil.example", true, nil, ErrRebinding},
		{"proxy on the same machine", "", "db.example", true, []string{"https://db.example"}, nil},
		{"proxy, other port", "", "db.example:8443", true, []string{"https://db.example"}, ErrRebinding},
		{"any origin is no host", "", "evil.example", true, []string{"*"}, ErrRebinding},
		{"same origin", "http://127.0.0.1:8000", "127.0.0.1:8000", true, nil, nil},
		{"same origin, case", "https://DB.example", "db.example", false, nil, nil},
		{"foreign", "https://evil.example", "db.example", false, nil, ErrForeignOrigin},
		{"foreign port", "http://127.0.0.1:9000", "127.0.0.1:8000", true, nil, ErrForeignOrigin},
		{"allowed", "https://app.example", "db.example", false, []string{"https://app.example/"}, nil},
		{"any", "https://evil.example", "db.example", false, []string{"*"}, nil},
		{"null", "null", "db.example", false, nil, ErrForeignOrigin},
		{"path", "https://db.example/x", "db.example", false, nil, ErrForeignOrigin},
		{"userinfo", "https://u@db.example", "db.example", false, nil, ErrForeignOrigin},
		{"scheme", "file://db.example", "db.example", false, nil, ErrForeignOrigin},
	}
	for _, c := range cases {
		if err := CheckOrigin(c.origin, c.host, c.loopback, c.allowed); !errors.Is(err, c.want) || (err == nil) != (c.want == nil) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

// FuzzCheckOrigin: any headers are judged without a panic; a request
// without Origin to a public listener always passes, and a request
// whose Origin is "*"-allowed fails only for its Host.
func FuzzCheckOrigin(f *testing.F) {
	f.Add("http://127.0.0.1:8000", "127.0.0.1:8000", true)
	f.Add("https://evil.example", "evil.example", true)
	f.Add("", "[::1", true)
	f.Add("http://[::1]:80", "[::1]:80", false)
	f.Add("http://%zz", "x", false)
	f.Fuzz(func(t *testing.T, origin, host string, loopback bool) {
		err := CheckOrigin(origin, host, loopback, nil)
		if err != nil && !errors.Is(err, ErrForeignOrigin) && !errors.Is(err, ErrRebinding) {
			t.Fatalf("unknown error %v", err)
		}
		if origin == "" && !loopback && err != nil {
			t.Fatalf("no Origin, public listener: %v", err)
		}
		if any := CheckOrigin(origin, host, loopback, []string{"*"}); any != nil && !errors.Is(any, ErrRebinding) {
			t.Fatalf("allowed any, refused %q: %v", origin, any)
		}
		if err == nil && loopback && !loopbackHost(host) {
			t.Fatalf("a loopback request with Host %q passed", host)
		}
	})
}
