package app

import (
	"io"
	"reflect"
	"testing"

	"github.com/praetorian/db-forge/audit"
	"github.com/praetorian/db-forge/config"
	"github.com/praetorian/db-forge/functions"
	"github.com/praetorian/db-forge/gateway"
	"github.com/praetorian/db-forge/txn"
	"github.com/praetorian/db-forge/wasm"
)

// The settings table's defaults are the packages' own: bound to wasm.Config
// and gateway.Options, an empty environment gives exactly DefaultConfig
// and DefaultOptions. A default changed on one side only fails here.
func TestConfigDefaultsAreThePackagesDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(nil, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := engineConfig(cfg), wasm.DefaultConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("engine defaults differ:\nsettings %+v\nwasm     %+v", got, want)
	}
	want := gateway.DefaultOptions()
	want.AdminTimeout, want.HealthTimeout = 0, 0 // no setting: the server's own
	if got := serverOptions(cfg); !reflect.DeepEqual(got, want) {
		t.Errorf("server defaults differ:\nsettings %+v\ngateway  %+v", got, want)
	}
	tw := txn.DefaultConfig()
	tw.Remember, tw.MaxRemembered = 0, 0 // no setting: the registry's own
	if got := txnConfig(cfg); got != tw {
		t.Errorf("transaction defaults differ:\nsettings %+v\ntxn      %+v", got, tw)
	}
	fw := functions.DefaultConfig()
	fw.RecycleBytes, fw.MaxLogBytes, fw.MaxResultBytes, fw.MaxIdle = 0, 0, 0, 0 // no setting: the package's own
	if got := functionsConfig(cfg); !reflect.DeepEqual(got, fw) {
		t.Errorf("functions defaults differ:\nsettings  %+v\nfunctions %+v", got, fw)
	}
	if cfg.AuditFlush != audit.DefaultFlush || cfg.AuditBuffer != audit.DefaultBuffer ||
		cfg.AuditRetention != audit.DefaultRetention || cfg.AuditMaxRows != audit.DefaultMaxRows || cfg.AuditMaxSQL != audit.DefaultMaxSQL {
		t.Errorf("audit defaults differ: settings %v %d %v %d %d", cfg.AuditFlush, cfg.AuditBuffer, cfg.AuditRetention, cfg.AuditMaxRows, cfg.AuditMaxSQL)
	}
}

// A documented "0" reaches the engine as its "off" (negative), never as 0
// (which the engine would take for its default).
func TestConfigZeroIsOffInTheEngine(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(nil, []string{"FORGE_READERS_PER_DB=0", "FORGE_READER_IDLE=0", "FORGE_DB_IDLE=0s",
		"FORGE_WASM_RECYCLE_MB=0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	e := engineConfig(cfg)
	if e.MaxReaders >= 0 || e.ReaderIdle >= 0 || e.DBIdle >= 0 || e.RecycleBytes >= 0 {
		t.Fatalf("0 did not become off: readers %d, reader idle %v, db idle %v, recycle %d",
			e.MaxReaders, e.ReaderIdle, e.DBIdle, e.RecycleBytes)
	}
	cfg, err = config.Load(nil, []string{"FORGE_READERS_PER_DB=3", "FORGE_READER_IDLE=1s", "FORGE_WASM_RECYCLE_MB=1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if e := engineConfig(cfg); e.MaxReaders != 3 || e.ReaderIdle.Seconds() != 1 || e.RecycleBytes != 1<<20 {
		t.Fatalf("values passed on wrong: %+v", e)
	}
}
