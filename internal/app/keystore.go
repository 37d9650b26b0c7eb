package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/praetorian/db-forge/auth"
	"github.com/praetorian/db-forge/config"
	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/gateway"
	"github.com/praetorian/db-forge/volumes"
	"github.com/praetorian/db-forge/wasm"
)

// The key database is a system database: <data>/.forge/meta.db, reached
// through the engine (one wasm runtime, one owner; the sandbox, limits and
// fault containment apply to it too) under the reserved name metaDB.
const (
	// metaDB fails forge.ValidateName (a name starts with a letter or a
	// digit), so no request can name it: the gateway refuses it before
	// the engine sees it, and only this package's keyStore uses it.
	metaDB       = ".meta"
	metaFile     = "meta.db"
	adminKeyFile = "admin.key"
)

// withMeta is the engine's resolver: the reserved name is the key
// database, every other name a database of the data directory.
func withMeta(resolve wasm.Resolver, metaPath string) wasm.Resolver {
	return func(name string) (string, error) {
		if name == metaDB {
			return metaPath, nil
		}
		return resolve(name)
	}
}

// ensureMetaFile makes the key database's file, for the gateway's user
// alone, if it is not there. (An empty file is an empty database; the
// engine never creates files.)
func ensureMetaFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		fi, err := os.Lstat(path)
		if err != nil {
			return fmt.Errorf("key database: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("key database %s: not a regular file", path)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("key database: %w", err)
	}
	return errors.Join(f.Sync(), f.Close())
}

// keyStore is auth.SQL over the engine's key database. Every statement
// it runs through Exec changes the keys (the auth package reads through
// Query), so after each one that succeeded it asks for a new last good
// copy (good, once the start has enabled it).
type keyStore struct {
	e    *wasm.Engine
	good *goodCopy
	// room, when set, releases the volume's reserve (volumes.Reserve):
	// a revocation (an UPDATE) that meets a full volume runs again with
	// it, as the engine does for deleting statements. Minting a key (an
	// INSERT) adds data and gets no reserve.
	room func() bool
}

var _ auth.SQL = keyStore{}

func (s keyStore) Exec(ctx context.Context, sql string, args ...forge.Value) (int64, error) {
	q := forge.Statement{SQL: sql, Params: forge.Params{Positional: args}}
	res, err := s.e.Query(ctx, metaDB, q, nil)
	if errors.Is(err, forge.ErrDiskFull) && s.room != nil && !isInsert(sql) && s.room() {
		res, err = s.e.Query(ctx, metaDB, q, nil)
	}
	if err == nil && s.good != nil {
		s.good.refresh()
	}
	return res.RowsAffected, err
}

// isInsert tells the key table's INSERTs (package auth's own statements,
// never client input) from its UPDATEs and DELETEs.
func isInsert(sql string) bool {
	sql = strings.TrimLeft(sql, " \t\n")
	return len(sql) >= 6 && strings.EqualFold(sql[:6], "INSERT")
}

func (s keyStore) Query(ctx context.Context, sql string, args []forge.Value, each func(forge.Row) error) error {
	_, err := s.e.Query(ctx, metaDB, forge.Statement{SQL: sql, Params: forge.Params{Positional: args}}, rowFunc(each))
	return err
}

// rowFunc is a forge.RowWriter calling a function for each row.
type rowFunc func(forge.Row) error

func (f rowFunc) Columns([]string) error { return nil }
func (f rowFunc) Row(r forge.Row) error  { return f(r) }

// adminKeyShown is where the log says the admin key's file is: in a
// container, the path the operator reads on the host.
func adminKeyShown(cfg config.Config, vol *volumes.Layout) string {
	if cfg.HostDataDir != "" {
		return filepath.Join(cfg.HostDataDir, ".forge", adminKeyFile)
	}
	return vol.SystemPath(adminKeyFile)
}

// newAuth loads the key table and the admin key, and says in the log where
// the admin key is (never what it is). Keys are loaded and minted whether
// or not authentication is enforced, so that turning it on needs no new
// keys. closeKeys takes the last good copy of the key database still due
// (keycopy.go); call it before the engine closes.
func newAuth(ctx context.Context, cfg config.Config, vol *volumes.Layout, eng *wasm.Engine, room func() bool, log *zap.Logger) (a gateway.Auth, closeKeys func(context.Context) error, err error) {
	path := vol.SystemPath(adminKeyFile)
	admin, created, err := auth.EnsureAdminKey(cfg.AdminKey, path)
	if err != nil {
		return gateway.Auth{}, nil, err
	}
	switch {
	case cfg.AdminKey != "":
		log.Info("admin key: FORGE_ADMIN_KEY")
	default:
		shown := adminKeyShown(cfg, vol)
		msg := "admin key: in its file, readable by this user only"
		if created {
			msg = "admin key created: in its file, readable by this user only; it opens every database"
		}
		log.Info(msg, zap.String("file", shown), zap.String("use", "export ADMIN_KEY=$(cat "+shown+")"))
	}
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	good := newGoodCopy(eng, vol.SystemPath(metaGoodFile), log)
	if err := checkKeyStore(lctx, eng, good, shownStateDir(cfg, vol)); err != nil {
		var damaged *damagedKeyStoreError
		if errors.As(err, &damaged) {
			log.Error("the key database is damaged: not starting; the error says how to recover",
				zap.String("file", vol.SystemPath(metaFile)))
		}
		return gateway.Auth{}, nil, err
	}
	keys, err := auth.New(lctx, keyStore{e: eng, good: good, room: room}, auth.Options{Admin: admin})
	if err != nil {
		return gateway.Auth{}, nil, fmt.Errorf("keys: %w", err)
	}
	// The store checked out and loaded: it is the new last good copy, and
	// every key change from now on refreshes it.
	good.enable(lctx)
	a = gateway.Auth{Keys: keys, Databases: vol, Disabled: cfg.Auth == "disabled"}
	if cfg.RateLimit > 0 {
		a.Limiter = auth.NewLimiter(auth.LimitConfig{Rate: cfg.RateLimit, Burst: cfg.RateBurst})
	}
	return a, good.close, nil
}
