// Package functest is test support for functions: the examples built
// with the Go toolchain (once per process), and small WebAssembly
// modules written byte by byte (wazero has no text format), hostile ones
// among them.
package functest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var builds struct {
	mu   sync.Mutex
	dir  string
	done map[string][]byte
}

// Example builds examples/functions/<name> as a WASI reactor with the Go
// toolchain (GOOS=wasip1 GOARCH=wasm, -buildmode=c-shared) and returns
// the module; built once per process.
func Example(t testing.TB, name string) []byte {
	t.Helper()
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if b, ok := builds.done[name]; ok {
		return b
	}
	if builds.dir == "" {
		d, err := os.MkdirTemp("", "forge-functions-")
		if err != nil {
			t.Fatal(err)
		}
		builds.dir = d
		builds.done = map[string][]byte{}
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	out := filepath.Join(builds.dir, name+".wasm")
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go") //nolint:staticcheck // the toolchain that built the test
	}
	cmd := exec.Command(goBin, "build", "-buildmode=c-shared", "-o", out, "./examples/functions/"+name)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	builds.done[name] = b
	return b
}
