package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/praetorian/db-forge/client"
)

func (a *app) dbCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "db", Short: "Create, list, describe, prune and delete databases (admin key)"}

	var ttl time.Duration
	var from, checkpoint, file string
	var quiet bool
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a database; prints its read-write key (shown once)",
		Long: `Create a database; prints its read-write key, which the gateway shows only once.
--ttl gives it a lease (it expires, to the trash, after that long); --from makes
it a branch of another database (or of its --checkpoint); --file fills it from a
SQLite file or an SQL script (.sql).`,
		Args: exactArgs(1, "a database NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var s *client.Spawned
			var err error
			if file != "" {
				if ttl > 0 || from != "" {
					return usageError{"--file takes neither --ttl nor --from"}
				}
				f, ferr := os.Open(file)
				if ferr != nil {
					return ferr
				}
				defer f.Close()
				ct := client.ContentTypeSQLite
				if strings.EqualFold(filepath.Ext(file), ".sql") {
					ct = client.ContentTypeSQL
				}
				s, err = a.c.SpawnFrom(a.ctx, args[0], a.progressReader(f, "uploading"), ct)
			} else {
				s, err = a.c.Spawn(a.ctx, args[0], &client.SpawnOptions{TTL: ttl, From: from, Checkpoint: checkpoint})
			}
			if err != nil {
				return err
			}
			if quiet {
				fmt.Fprintln(a.out, s.APIKey)
				return nil
			}
			return a.print(s, table{cols: []string{"name", "created", "api_key", "expires_at"},
				rows: [][]any{{s.DBName, s.Created, s.APIKey, s.ExpiresAt}}})
		},
	}
	create.Flags().DurationVar(&ttl, "ttl", 0, "a lease: the database expires after this long (e.g. 24h)")
	create.Flags().StringVar(&from, "from", "", "make a branch: a copy of this database")
	create.Flags().StringVar(&checkpoint, "checkpoint", "", "with --from: a copy of this checkpoint of it")
	create.Flags().StringVar(&file, "file", "", "fill it from a SQLite file, or an SQL script (.sql)")
	create.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the key (empty when the database existed)")

	var prefix, status string
	list := &cobra.Command{
		Use: "list", Short: "List databases", Args: exactArgs(0, "no argument"),
		RunE: func(cmd *cobra.Command, args []string) error {
			items, err := a.c.List(a.ctx, &client.ListOptions{Prefix: prefix, Status: status, Limit: 1000})
			if err != nil {
				return err
			}
			t := table{cols: []string{"name", "status", "created_at", "expires_at"}}
			for _, i := range items {
				t.rows = append(t.rows, []any{i.Name, i.Status, i.CreatedAt, i.ExpiresAt})
			}
			if items == nil {
				items = []client.Instance{}
			}
			return a.print(items, t)
		},
	}
	list.Flags().StringVar(&prefix, "prefix", "", "only names starting with this")
	list.Flags().StringVar(&status, "status", "", "only instances of this status")

	info := &cobra.Command{
		Use: "info NAME", Short: "Describe a database", Args: exactArgs(1, "a database NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := a.c.Details(a.ctx, args[0])
			if err != nil {
				return err
			}
			return a.print(d, table{cols: []string{"field", "value"}, rows: [][]any{
				{"name", d.Name}, {"status", d.Status}, {"created_at", d.CreatedAt}, {"last_used_at", d.LastUsedAt},
				{"size_bytes", d.SizeBytes}, {"tables", d.Tables}, {"expires_at", d.ExpiresAt},
				{"keys", fmt.Sprintf("%d (%d active)", d.Keys.Total, d.Keys.Active)},
			}})
		},
	}

	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete a database, its keys and all its data, for good", Args: exactArgs(1, "a database NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.confirm(fmt.Sprintf("Delete database %q and all its data, for good?", args[0])); err != nil {
				return err
			}
			m, err := a.c.Delete(a.ctx, args[0])
			if err != nil {
				return err
			}
			return a.print(m, table{cols: []string{"message", "db_name"}, rows: [][]any{{m.Message, m.DBName}}})
		},
	}

	prune := &cobra.Command{
		Use: "prune NAME", Short: "Remove a database's instance (its data stays)", Args: exactArgs(1, "a database NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := a.c.Prune(a.ctx, args[0])
			if err != nil {
				return err
			}
			return a.print(m, table{cols: []string{"message", "db_name"}, rows: [][]any{{m.Message, m.DBName}}})
		},
	}

	var leaseTTL time.Duration
	lease := &cobra.Command{
		Use: "lease NAME --ttl DURATION", Short: "Set a database's lease (--ttl 0 removes it)", Args: exactArgs(1, "a database NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("ttl") {
				return usageError{"db lease needs --ttl (0 removes the lease)"}
			}
			l, err := a.c.SetLease(a.ctx, args[0], leaseTTL)
			if err != nil {
				return err
			}
			return a.print(l, table{cols: []string{"db_name", "expires_at"}, rows: [][]any{{l.DBName, l.ExpiresAt}}})
		},
	}
	lease.Flags().DurationVar(&leaseTTL, "ttl", 0, "the lease: expire after this long; 0 removes it")

	trash := &cobra.Command{
		Use: "trash", Short: "List expired databases that can be restored", Args: exactArgs(0, "no argument"),
		RunE: func(cmd *cobra.Command, args []string) error {
			items, err := a.c.Trash(a.ctx)
			if err != nil {
				return err
			}
			t := table{cols: []string{"name", "expired_at", "purge_at", "size_bytes"}}
			for _, i := range items {
				t.rows = append(t.rows, []any{i.Name, i.ExpiredAt, i.PurgeAt, i.SizeBytes})
			}
			return a.print(items, t)
		},
	}
	var restoreTTL time.Duration
	restore := &cobra.Command{
		Use: "restore NAME", Short: "Bring an expired database back from the trash (a new key)", Args: exactArgs(1, "a database NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.c.RestoreFromTrash(a.ctx, args[0], restoreTTL)
			if err != nil {
				return err
			}
			return a.print(s, table{cols: []string{"name", "api_key", "expires_at"}, rows: [][]any{{s.DBName, s.APIKey, s.ExpiresAt}}})
		},
	}
	restore.Flags().DurationVar(&restoreTTL, "ttl", 0, "a new lease")

	cmd.AddCommand(create, list, info, del, prune, lease, trash, restore)
	return cmd
}

func (a *app) keysCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Mint, list and revoke a database's API keys (admin key)"}
	var scope string
	var expires time.Duration
	var quietKey bool
	create := &cobra.Command{
		Use: "create DB", Short: "Mint a key; prints its token (shown once)", Args: exactArgs(1, "a database name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := a.c.CreateKey(a.ctx, args[0], scope, expires)
			if err != nil {
				return err
			}
			if quietKey {
				fmt.Fprintln(a.out, k.Token)
				return nil
			}
			return a.print(k, table{cols: []string{"id", "key", "scope", "expires_at"}, rows: [][]any{{k.ID, k.Token, k.Scope, k.ExpiresAt}}})
		},
	}
	create.Flags().StringVar(&scope, "scope", client.ScopeReadWrite, "read-only or read-write")
	create.Flags().DurationVar(&expires, "expires", 0, "expire after this long (default: never)")
	create.Flags().BoolVarP(&quietKey, "quiet", "q", false, "print only the key's token")
	list := &cobra.Command{
		Use: "list DB", Short: "List a database's keys (never their tokens)", Args: exactArgs(1, "a database name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			keys, err := a.c.Keys(a.ctx, args[0])
			if err != nil {
				return err
			}
			t := table{cols: []string{"id", "prefix", "scope", "created_at", "expires_at", "revoked"}}
			for _, k := range keys {
				t.rows = append(t.rows, []any{k.ID, k.Prefix, k.Scope, k.CreatedAt, k.ExpiresAt, k.Revoked})
			}
			return a.print(keys, t)
		},
	}
	revoke := &cobra.Command{
		Use: "revoke DB KEY_ID", Short: "Revoke a key at once", Args: exactArgs(2, "a database name and a key id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.confirm(fmt.Sprintf("Revoke key %s of %q? Clients using it stop working.", args[1], args[0])); err != nil {
				return err
			}
			if err := a.c.RevokeKey(a.ctx, args[0], args[1]); err != nil {
				return err
			}
			return a.print(map[string]string{"message": "API key revoked.", "db_name": args[0], "id": args[1]},
				table{cols: []string{"message", "id"}, rows: [][]any{{"API key revoked.", args[1]}}})
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
