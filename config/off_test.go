package config

import (
	"io"
	"testing"
	"time"
)

// "0 = off" is decided by the table: such a setting holds Off, every other
// value as given.
func TestZeroIsOff(t *testing.T) {
	t.Parallel()
	c, err := Load(nil, []string{"FORGE_READERS_PER_DB=0", "FORGE_READER_IDLE=0", "FORGE_DB_IDLE=0s",
		"FORGE_WASM_RECYCLE_MB=0", "FORGE_RATE_LIMIT=off", "FORGE_DISK_RESERVE_MB=0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.ReadersPerDB != Off || c.ReaderIdle != Off || c.DBIdle != Off || c.WasmRecycleMB != Off || c.RateLimit != Off {
		t.Fatalf("not off: %+v", c)
	}
	if c.DiskReserveMB != 0 {
		t.Fatalf("FORGE_DISK_RESERVE_MB=0 is 0 (none) for volumes too, got %d", c.DiskReserveMB)
	}
	d, err := Load(nil, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if d.ReadersPerDB != 2 || d.ReaderIdle != 30*time.Second || d.DBIdle != 10*time.Minute || d.WasmRecycleMB != 32 {
		t.Fatalf("defaults: %+v", d)
	}
	if _, err := Load(nil, []string{"FORGE_READERS_PER_DB=-1"}, io.Discard); err == nil {
		t.Fatal("a negative FORGE_READERS_PER_DB was taken: only 0 means off")
	}
}
