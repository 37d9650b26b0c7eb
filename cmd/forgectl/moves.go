package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/praetorian/db-forge/client"
)

func (a *app) checkpointCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "checkpoint", Aliases: []string{"checkpoints"}, Short: "Take, list, restore and delete checkpoints of a database"}
	cpTable := func(cps ...client.Checkpoint) table {
		t := table{cols: []string{"name", "created_at", "size_bytes", "auto"}}
		for _, c := range cps {
			t.rows = append(t.rows, []any{c.Name, c.CreatedAt, c.SizeBytes, c.Auto})
		}
		return t
	}
	create := &cobra.Command{
		Use: "create DB [NAME]", Short: "Take a checkpoint (default name: the time)", Args: rangeArgs(1, 2, "a database name and, optionally, a checkpoint name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 2 {
				name = args[1]
			}
			cp, err := a.c.DB(args[0]).CreateCheckpoint(a.ctx, name)
			if err != nil {
				return err
			}
			return a.print(cp, cpTable(*cp))
		},
	}
	list := &cobra.Command{
		Use: "list DB", Short: "List checkpoints, oldest first", Args: exactArgs(1, "a database name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cps, err := a.c.DB(args[0]).Checkpoints(a.ctx)
			if err != nil {
				return err
			}
			if cps == nil {
				cps = []client.Checkpoint{}
			}
			return a.print(map[string]any{"checkpoints": cps}, cpTable(cps...))
		},
	}
	restore := &cobra.Command{
		Use: "restore DB NAME", Short: "Put the database back to a checkpoint (the state replaced is kept as one)", Args: exactArgs(2, "a database name and a checkpoint"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.confirm(fmt.Sprintf("Restore %q to checkpoint %q? (the current state is kept as an automatic checkpoint)", args[0], args[1])); err != nil {
				return err
			}
			r, err := a.c.DB(args[0]).RestoreCheckpoint(a.ctx, args[1])
			if err != nil {
				return err
			}
			return a.print(r, table{cols: []string{"message", "checkpoint", "undo_checkpoint"}, rows: [][]any{{r.Message, r.Checkpoint, r.Undo.Name}}})
		},
	}
	del := &cobra.Command{
		Use: "delete DB NAME", Short: "Delete a checkpoint", Args: exactArgs(2, "a database name and a checkpoint"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.confirm(fmt.Sprintf("Delete checkpoint %q of %q?", args[1], args[0])); err != nil {
				return err
			}
			if err := a.c.DB(args[0]).DeleteCheckpoint(a.ctx, args[1]); err != nil {
				return err
			}
			return a.print(map[string]string{"message": "Checkpoint deleted.", "db_name": args[0], "checkpoint": args[1]},
				table{cols: []string{"message", "checkpoint"}, rows: [][]any{{"Checkpoint deleted.", args[1]}}})
		},
	}
	cmd.AddCommand(create, list, restore, del)
	return cmd
}

func (a *app) branchCommand() *cobra.Command {
	var from, checkpoint string
	cmd := &cobra.Command{
		Use: "branch NEW --from DB [--checkpoint NAME]", Short: "Make a new database, a copy of another (or of its checkpoint)",
		Args: exactArgs(1, "the new database's name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" {
				return usageError{"branch needs --from DB"}
			}
			s, err := a.c.Branch(a.ctx, args[0], from, checkpoint)
			if err != nil {
				return err
			}
			return a.print(s, table{cols: []string{"name", "from", "checkpoint", "api_key"}, rows: [][]any{{s.DBName, s.From, s.Checkpoint, s.APIKey}}})
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the database to copy")
	cmd.Flags().StringVar(&checkpoint, "checkpoint", "", "copy this checkpoint of it instead")
	return cmd
}

func (a *app) diffCommand() *cobra.Command {
	var against, againstKey string
	var summary bool
	cmd := &cobra.Command{
		Use:   "diff DB --against checkpoint:NAME|db:NAME",
		Short: "What changed, row by row, from a checkpoint or another database to DB now",
		Args:  exactArgs(1, "a database name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if against == "" {
				return usageError{"diff needs --against checkpoint:NAME or db:NAME"}
			}
			o := &client.DiffOptions{Summary: summary, AgainstKey: againstKey, Limit: 1000}
			var pages []*client.Diff
			t := table{cols: []string{"table", "op", "key", "before", "after"}}
			if summary {
				t.cols = []string{"table", "inserted", "deleted", "updated", "skipped"}
			}
			for {
				d, err := a.c.DB(args[0]).Diff(a.ctx, against, o)
				if err != nil {
					return err
				}
				pages = append(pages, d)
				for _, td := range d.Tables {
					if summary || td.Skipped != "" {
						t.rows = append(t.rows, []any{td.Table, td.Inserted, td.Deleted, td.Updated, td.Skipped})
						continue
					}
					for _, ch := range td.Changes {
						t.rows = append(t.rows, []any{td.Table, ch.Op, jsonValue(ch.Key), rowOrNil(ch.Before), rowOrNil(ch.After)})
					}
				}
				if d.NextCursor == nil || summary {
					break
				}
				o.Cursor = *d.NextCursor
			}
			if a.output == "table" && len(pages) > 0 {
				for _, s := range pages[0].Schema {
					fmt.Fprintf(a.out, "schema: %s %s %s\n", s.Type, s.Name, s.Change)
				}
			}
			var v any = pages[0]
			if len(pages) > 1 {
				v = pages
			}
			return a.print(v, t)
		},
	}
	cmd.Flags().StringVar(&against, "against", "", "checkpoint:NAME or db:NAME")
	cmd.Flags().StringVar(&againstKey, "against-key", "", "a key of the other database (db:NAME without the admin key)")
	cmd.Flags().BoolVar(&summary, "summary", false, "counts only")
	return cmd
}

func rowOrNil(r client.Row) any {
	if r == nil {
		return nil
	}
	return jsonValue(r)
}
