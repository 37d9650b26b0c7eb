package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/praetorian/db-forge/client"
)

// These examples run against the gateway TestMain starts (gatewayURL,
// adminKey); point them at yours, e.g. http://localhost:8000 and the
// key in <data dir>/.forge/admin.key.

// The README's walk-through: spawn a database, make a table, insert,
// query, mint a read-only key.
func Example() {
	ctx := context.Background()
	c := client.New(gatewayURL, client.WithKey(adminKey))

	spawned, err := c.Spawn(ctx, "shop", nil)
	if err != nil {
		panic(err)
	}
	defer c.Delete(ctx, "shop")
	fmt.Println("created:", spawned.Created, "key:", strings.HasPrefix(spawned.APIKey, "dbf_"))

	// The database's own key opens its data routes.
	shop := client.New(gatewayURL, client.WithKey(spawned.APIKey)).DB("shop")
	err = shop.CreateTable(ctx, "products", []client.Column{
		{Name: "id", Type: "INTEGER", PrimaryKey: true},
		{Name: "name", Type: "TEXT", NotNull: true},
		{Name: "price", Type: "REAL"},
	})
	if err != nil {
		panic(err)
	}
	ins, err := shop.Insert(ctx, "products", []client.Row{{"name": "lamp", "price": 11.0}, {"name": "desk", "price": 120.5}}, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("inserted:", ins.RowsAffected)

	res, err := shop.Query(ctx, "SELECT name, price FROM products WHERE price > ? ORDER BY id", 10)
	if err != nil {
		panic(err)
	}
	for _, row := range res.Data {
		fmt.Println(row["name"], row["price"])
	}

	ro, err := c.CreateKey(ctx, "shop", client.ScopeReadOnly, 0)
	if err != nil {
		panic(err)
	}
	fmt.Println("read-only key:", ro.Scope)
	// Output:
	// created: true key: true
	// inserted: 2
	// lamp 11
	// desk 120.5
	// read-only key: read-only
}

// Errors carry the server's code: match them with errors.Is, read them
// with errors.As.
func ExampleError() {
	ctx := context.Background()
	c := client.New(gatewayURL, client.WithKey(adminKey))

	_, err := c.DB("no-such-db").Query(ctx, "SELECT 1")
	fmt.Println(errors.Is(err, client.ErrDatabaseNotFound))

	_, _ = c.Spawn(ctx, "errs", nil)
	defer c.Delete(ctx, "errs")
	_, err = c.DB("errs").Batch(ctx, []client.Statement{
		{SQL: "CREATE TABLE t(id INTEGER PRIMARY KEY)"},
		{SQL: "INSERT INTO t VALUES (1), (1)"},
	}, nil)
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, e.Code, e.SQLiteCode, "statement", *e.StatementIndex)
	}
	// Output:
	// true
	// 400 SQL_ERROR SQLITE_CONSTRAINT_PRIMARYKEY statement 1
}

// An interactive transaction: statements across requests, then commit.
func ExampleDB_Begin() {
	ctx := context.Background()
	c := client.New(gatewayURL, client.WithKey(adminKey))
	_, _ = c.Spawn(ctx, "bank", nil)
	defer c.Delete(ctx, "bank")
	db := c.DB("bank")
	_, _ = db.Query(ctx, "CREATE TABLE acct(id TEXT PRIMARY KEY, balance INTEGER)")
	_, _ = db.Query(ctx, "INSERT INTO acct VALUES ('a', 100), ('b', 0)")

	tx, err := db.Begin(ctx, nil)
	if err != nil {
		panic(err)
	}
	_, _ = tx.Query(ctx, "UPDATE acct SET balance = balance - 30 WHERE id = 'a'")
	_, _ = tx.Query(ctx, "UPDATE acct SET balance = balance + 30 WHERE id = 'b'")
	if err := tx.Commit(ctx); err != nil {
		panic(err)
	}
	res, _ := db.Exec(ctx, client.Statement{SQL: "SELECT id, balance FROM acct ORDER BY id", Shape: "arrays"}, nil)
	fmt.Println(res.Columns, res.Rows)
	// Output:
	// [id balance] [[a 70] [b 30]]
}

// Rows as a REST API: filters, sort, pages.
func ExampleDB_Rows() {
	ctx := context.Background()
	c := client.New(gatewayURL, client.WithKey(adminKey))
	_, _ = c.Spawn(ctx, "people", nil)
	defer c.Delete(ctx, "people")
	db := c.DB("people")
	_, _ = db.Query(ctx, "CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT, age INTEGER)")
	_, _ = db.Insert(ctx, "p", []client.Row{{"name": "ann", "age": 30}, {"name": "bob", "age": 17}, {"name": "cy", "age": 45}}, nil)

	q := &client.RowsQuery{Where: client.Where{"age__gte": {"18"}}, Sort: []string{"-age"}, Size: 1}
	for {
		page, err := db.Rows(ctx, "p", q)
		if err != nil {
			panic(err)
		}
		for _, r := range page.Data {
			fmt.Println(r["name"], r["age"])
		}
		if page.Next == "" {
			break
		}
		q.Next = page.Next
	}
	// Output:
	// cy 45
	// ann 30
}

// Checkpoints, a diff against one, and a restore.
func ExampleDB_CreateCheckpoint() {
	ctx := context.Background()
	c := client.New(gatewayURL, client.WithKey(adminKey))
	_, _ = c.Spawn(ctx, "notes", nil)
	defer c.Delete(ctx, "notes")
	db := c.DB("notes")
	_, _ = db.Query(ctx, "CREATE TABLE n(id INTEGER PRIMARY KEY, body TEXT)")
	_, _ = db.Query(ctx, "INSERT INTO n VALUES (1, 'first')")

	if _, err := db.CreateCheckpoint(ctx, "v1"); err != nil {
		panic(err)
	}
	_, _ = db.Query(ctx, "INSERT INTO n VALUES (2, 'second')")

	d, _ := db.Diff(ctx, "checkpoint:v1", nil)
	for _, t := range d.Tables {
		for _, ch := range t.Changes {
			fmt.Println(t.Table, ch.Op, ch.Key["id"], ch.After["body"])
		}
	}
	r, _ := db.RestoreCheckpoint(ctx, "v1")
	fmt.Println("restored", r.Checkpoint, "undo is automatic:", r.Undo.Auto)
	// Output:
	// n insert 2 second
	// restored v1 undo is automatic: true
}

// Export streams the database; here an SQL dump, copied to stdout.
func ExampleDB_Export() {
	ctx := context.Background()
	c := client.New(gatewayURL, client.WithKey(adminKey))
	_, _ = c.Spawn(ctx, "dumped", nil)
	defer c.Delete(ctx, "dumped")
	db := c.DB("dumped")
	_, _ = db.Query(ctx, "CREATE TABLE t(a INTEGER, b TEXT)")
	_, _ = db.Query(ctx, "INSERT INTO t VALUES (1, 'x')")

	dump, err := db.Export(ctx, client.FormatSQL)
	if err != nil {
		panic(err)
	}
	defer dump.Close()
	_, _ = io.Copy(os.Stdout, dump)
	// Output:
	// PRAGMA foreign_keys=OFF;
	// BEGIN TRANSACTION;
	// CREATE TABLE t(a INTEGER, b TEXT);
	// INSERT INTO "t"(rowid,"a","b") VALUES(1,1,'x');
	// COMMIT;
}

// Import streams an SQL script or CSV into a database.
func ExampleDB_Import() {
	ctx := context.Background()
	c := client.New(gatewayURL, client.WithKey(adminKey))
	_, _ = c.Spawn(ctx, "imported", nil)
	defer c.Delete(ctx, "imported")
	db := c.DB("imported")

	res, err := db.Import(ctx, strings.NewReader("city,pop\nLyon,522000\nNice,342000\n"), client.ContentTypeCSV, "cities")
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Table, res.Created, res.RowsAffected, res.Columns[1].Type)
	// Output:
	// cities true 2 INTEGER
}
