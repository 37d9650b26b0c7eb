package wasm

import (
	"testing"
)

// TestPageCache: every connection gets the configured page cache (the
// bound of its instance's memory), SQLite's own when it is negative.
func TestPageCache(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		cfg  int64
		want int64 // PRAGMA cache_size: negative = KiB, positive = pages
	}{
		{"default", 0, -512},
		{"set", 300 << 10, -300},
		{"SQLite's own", -1, -2000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, layout := newTestEngine(t, Config{PageCache: tt.cfg})
			createDB(t, layout, "pc")
			path, err := layout.Resolve("pc")
			if err != nil {
				t.Fatal(err)
			}
			for _, writer := range []bool{true, false} {
				c, err := openConn(path, e.connOptions(writer))
				if err != nil {
					t.Fatal(err)
				}
				// The sandbox refuses the pragma to clients; read it past it.
				if err := c.db.SetAuthorizer(nil); err != nil {
					t.Fatal(err)
				}
				st, _, err := c.db.Prepare("PRAGMA cache_size")
				if err != nil {
					t.Fatal(err)
				}
				if !st.Step() {
					t.Fatalf("PRAGMA cache_size: no row: %v", st.Err())
				}
				if got := st.ColumnInt64(0); got != tt.want {
					t.Errorf("writer %v: cache_size %d, want %d", writer, got, tt.want)
				}
				st.Close()
				c.close()
			}
		})
	}
}
