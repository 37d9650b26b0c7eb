package functions

import (
	"context"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/praetorian/db-forge/forge"
	ft "github.com/praetorian/db-forge/functions/functest"
)

type noEngine struct{}

func (noEngine) Read(context.Context, string, func(forge.Tx) error) error  { return nil }
func (noEngine) Write(context.Context, string, func(forge.Tx) error) error { return nil }

type tmpFiles struct{ root string }

func (d tmpFiles) Dir(db string) (string, error)  { return filepath.Join(d.root, db), nil }
func (d tmpFiles) Exists(db string) (bool, error) { return true, nil }

// BenchmarkInstanceRSS: the process's resident memory per warm instance
// of a Go-built function (the echo example), 50 instances held at once,
// from /proc/self/statm after a GC.
func BenchmarkInstanceRSS(b *testing.B) {
	module := ft.Example(b, "echo")
	for b.Loop() {
		s, err := New(Config{}, noEngine{}, tmpFiles{b.TempDir()}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.Deploy(context.Background(), "d", "echo", module, nil); err != nil {
			b.Fatal(err)
		}
		f, err := s.lookup(context.Background(), "d", "echo")
		if err != nil {
			b.Fatal(err)
		}
		const n = 50
		before := rss(b)
		held := make([]*instance, n)
		for i := range held {
			if held[i], err = f.instantiate(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		after := rss(b)
		b.ReportMetric(float64(after-before)/n/(1<<20), "MiB/instance")
		for _, in := range held {
			_ = in.mod.Close(context.Background())
		}
		_ = s.Close(context.Background())
	}
}

func rss(b *testing.B) int64 {
	goruntime.GC()
	debug.FreeOSMemory()
	raw, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		b.Skip("no /proc/self/statm")
	}
	f := strings.Fields(string(raw))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
