package config

import (
	"flag"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		args    []string
		env     []string
		check   func(Config) bool
		wantErr string
	}{
		{name: "defaults", check: func(c Config) bool {
			return c.Listen == ":8000" && c.DataDir == "./db-data" && c.Backend == "auto" && c.Log == "json" &&
				c.MaxOpenDBs == 1024 && c.Synchronous == "NORMAL" && c.QueryTimeout == 5*time.Second && c.Auth == "enabled"
		}},
		{name: "environment", env: []string{"FORGE_LISTEN=127.0.0.1:9", "FORGE_SYNCHRONOUS=full", "HOME=/root"},
			check: func(c Config) bool { return c.Listen == "127.0.0.1:9" && c.Synchronous == "FULL" }},
		{name: "flag beats environment", env: []string{"FORGE_DATA_DIR=/env"}, args: []string{"-data-dir", "/flag"},
			check: func(c Config) bool { return c.DataDir == "/flag" }},
		{name: "auth defaults", check: func(c Config) bool {
			// No rate limit by default: it is the operator's choice
			// (docs/OPERATIONS.md, Rate limits).
			return c.Auth == "enabled" && c.AdminKey == "" && c.RateLimit < 0 && c.RateBurst == 2000
		}},
		{name: "auth settings", env: []string{"FORGE_ADMIN_KEY=" + strings.Repeat("k", 32), "FORGE_AUTH=disabled", "FORGE_RATE_LIMIT=2.5", "FORGE_RATE_BURST=10"},
			check: func(c Config) bool {
				return c.AdminKey == strings.Repeat("k", 32) && c.Auth == "disabled" && c.RateLimit == 2.5 && c.RateBurst == 10
			}},
		{name: "rate limit off", env: []string{"FORGE_RATE_LIMIT=OFF"}, check: func(c Config) bool { return c.RateLimit < 0 }},
		{name: "rate limit set", env: []string{"FORGE_RATE_LIMIT=1000"}, check: func(c Config) bool { return c.RateLimit == 1000 && c.RateBurst == 2000 }},
		{name: "rate limit negative is off", env: []string{"FORGE_RATE_LIMIT=-5"}, check: func(c Config) bool { return c.RateLimit < 0 }},
		{name: "rate limit zero", env: []string{"FORGE_RATE_LIMIT=0"}, wantErr: "FORGE_RATE_LIMIT"},
		{name: "rate limit not a number", env: []string{"FORGE_RATE_LIMIT=lots"}, wantErr: "FORGE_RATE_LIMIT"},
		{name: "rate limit NaN", env: []string{"FORGE_RATE_LIMIT=NaN"}, wantErr: "FORGE_RATE_LIMIT"},
		{name: "rate burst zero", env: []string{"FORGE_RATE_BURST=0"}, wantErr: "FORGE_RATE_BURST"},
		{name: "auth value", env: []string{"FORGE_AUTH=off"}, wantErr: "FORGE_AUTH"},
		{name: "admin key too short", env: []string{"FORGE_ADMIN_KEY=k"}, wantErr: "FORGE_ADMIN_KEY has 1 characters"},
		{name: "admin key too long", env: []string{"FORGE_ADMIN_KEY=" + strings.Repeat("k", 257)}, wantErr: "FORGE_ADMIN_KEY has 257"},
		{name: "admin key with a space", env: []string{"FORGE_ADMIN_KEY=" + strings.Repeat("k", 32) + " x"}, wantErr: "visible ASCII"},
		{name: "admin key as a flag", args: []string{"-admin-key", "short"}, wantErr: "FORGE_ADMIN_KEY has 5"},
		{name: "unknown variable named", env: []string{"FORGE_NOPE=1", "FORGE_ALSO=2"}, wantErr: "FORGE_ALSO, FORGE_NOPE"},
		{name: "bad enum", env: []string{"FORGE_LOG=xml"}, wantErr: "FORGE_LOG"},
		{name: "bad integer", env: []string{"FORGE_MAX_OPEN_DBS=-1"}, wantErr: "FORGE_MAX_OPEN_DBS"},
		{name: "bad duration", args: []string{"-busy-timeout", "forever"}, wantErr: "busy-timeout"},
		// 0 used to be taken and silently become 5s (issue 17, bug 3).
		{name: "busy timeout zero", env: []string{"FORGE_BUSY_TIMEOUT=0"}, wantErr: "FORGE_BUSY_TIMEOUT"},
		{name: "busy timeout 1ms", env: []string{"FORGE_BUSY_TIMEOUT=1ms"}, check: func(c Config) bool { return c.BusyTimeout == time.Millisecond }},
		{name: "stray argument", args: []string{"serve"}, wantErr: "unexpected argument"},
		{name: "empty listen", env: []string{"FORGE_LISTEN="}, wantErr: "FORGE_LISTEN"},
		{name: "shutdown defaults", check: func(c Config) bool {
			return c.ShutdownTimeout == 30*time.Second && c.ShutdownDrain == time.Second
		}},
		{name: "shutdown drain off", env: []string{"FORGE_SHUTDOWN_DRAIN=0s"}, check: func(c Config) bool { return c.ShutdownDrain == 0 }},
		{name: "shutdown drain negative", env: []string{"FORGE_SHUTDOWN_DRAIN=-1s"}, wantErr: "FORGE_SHUTDOWN_DRAIN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(tc.args, tc.env, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("unexpected config %+v", c)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var b strings.Builder
	_, err := Load([]string{"-h"}, nil, &b)
	if err != flag.ErrHelp || !strings.Contains(b.String(), "FORGE_DATA_DIR") {
		t.Fatalf("err %v, usage %q", err, b.String())
	}
}

// .env.example is generated from Settings; it must not drift.
func TestEnvExampleIsCurrent(t *testing.T) {
	data, err := os.ReadFile("../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != EnvExample() {
		t.Fatalf(".env.example is stale; regenerate it with: go run ./config/gen-env > .env.example")
	}
}

func TestEverySettingHasAFlagAndADefault(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Settings() {
		if !strings.HasPrefix(s.Env, "FORGE_") || s.Help == "" || seen[s.Flag()] {
			t.Errorf("setting %+v", s)
		}
		seen[s.Flag()] = true
	}
}

// The README's configuration table names every setting.
func TestReadmeDocumentsEverySetting(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Settings() {
		if !strings.Contains(string(data), "`"+s.Env+"`") {
			t.Errorf("README.md does not document %s", s.Env)
		}
	}
}

// An admin key that is refused is never echoed: the error names the
// setting, not the value (which may be a real key with a typo).
func TestAdminKeyNotInErrors(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"hunter2-secret", strings.Repeat("s", 31), strings.Repeat("s", 40) + "\x01"} {
		_, err := Load(nil, []string{"FORGE_ADMIN_KEY=" + v}, io.Discard)
		if err == nil || strings.Contains(err.Error(), v) || strings.Contains(err.Error(), "sss") {
			t.Errorf("FORGE_ADMIN_KEY=%q: err %v", v, err)
		}
	}
}
