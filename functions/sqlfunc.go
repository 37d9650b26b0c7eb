package functions

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// SQL functions (issue 16, item 4): a deployed function may also be a
// scalar function of its database's SQL ("sql_function" at deploy). The
// engine registers it on each connection it opens (asking SQLFunctions);
// a deploy or delete that changes a database's SQL functions closes its
// connections (Config's Refresh) so that the next ones have them.

// validSQLFunction checks a deploy's "sql_function".
func validSQLFunction(f *forge.SQLFunction) error {
	if !nameRule.MatchString(f.Name) {
		return invalid("Invalid sql_function name %q: a lower-case letter, then up to 62 lower-case letters, digits or underscores.", f.Name)
	}
	if f.Args < -1 || f.Args > 16 {
		return invalid("sql_function args must be from 0 to 16 (or -1: any number).")
	}
	return nil
}

// checkSQLFunction: an SQL function cannot run SQL (it runs inside the
// statement that calls it, which holds the database), and may not take
// the name of a function SQLite already has.
func (s *Service) checkSQLFunction(ctx context.Context, db string, f *function, sqlFn *forge.SQLFunction) error {
	if f.usesSQL {
		return invalid("An SQL function cannot run SQL: the module imports forge.query or forge.query_row.")
	}
	ours := map[string]bool{}
	if all, err := s.manifests(db); err == nil {
		for _, m := range all {
			if m.SQLFunction != nil && m.Name != f.name {
				if m.SQLFunction.Name == sqlFn.Name {
					return invalid("Function %q is already the SQL function %s.", m.Name, sqlFn.Name)
				}
			}
			if m.SQLFunction != nil {
				ours[m.SQLFunction.Name] = true
			}
		}
	}
	if ours[sqlFn.Name] {
		return nil // this function's own, redeployed
	}
	taken := false
	err := s.eng.Read(ctx, db, func(tx forge.Tx) error {
		res, err := tx.Run(ctx, forge.Statement{SQL: "SELECT 1 FROM pragma_function_list WHERE name = ?",
			Params: forge.Params{Positional: []forge.Value{forge.TextValue(sqlFn.Name)}}}, nil)
		taken = res.RowsAffected > 0
		return err
	})
	if err != nil {
		return err
	}
	if taken {
		return invalid("SQLite already has a function %s; choose another sql_function name.", sqlFn.Name)
	}
	return nil
}

// SQLFunctions lists the SQL functions of database db's functions.
func (s *Service) SQLFunctions(db string) []forge.SQLFunction {
	all, err := s.manifests(db)
	if err != nil {
		return nil
	}
	var out []forge.SQLFunction
	for _, m := range all {
		if m.SQLFunction != nil {
			f := *m.SQLFunction
			f.Function = m.Name
			out = append(out, f)
		}
	}
	return out
}

// Scalar calls function name of db as an SQL function: its arguments
// as a JSON array for the body, its answer (2xx) a JSON value for the
// result: a number, a string, null, a boolean (1 or 0), {"base64": …}
// (a blob); any other JSON is its text.
func (s *Service) Scalar(ctx context.Context, db, name string, args []forge.Value) (forge.Value, error) {
	body := []byte{'['}
	for i, a := range args {
		if i > 0 {
			body = append(body, ',')
		}
		switch a.Kind {
		case forge.Integer:
			body = strconv.AppendInt(body, a.Int, 10)
		case forge.Float:
			body = strconv.AppendFloat(body, a.Float, 'g', -1, 64)
		case forge.Text:
			body = appendString(body, a.Str)
		case forge.Blob:
			body = append(body, `{"base64":"`...)
			body = base64.StdEncoding.AppendEncode(body, a.Bytes)
			body = append(body, `"}`...)
		default:
			body = append(body, "null"...)
		}
	}
	body = append(body, ']')
	start := time.Now()
	ans, err := s.call(ctx, db, name, body, true, true)
	if s.obs != nil {
		s.obs(db, name, codeOf(ans, err), time.Since(start))
	}
	if err != nil {
		return forge.Value{}, err
	}
	if ans.Status >= 300 {
		return forge.Value{}, fmt.Errorf("function %s answered %d: %s", name, ans.Status, ans.Body)
	}
	p, err := DecodeParams(append(append([]byte{'['}, ans.Body...), ']'))
	if err != nil || len(p.Positional) != 1 {
		return forge.TextValue(string(ans.Body)), nil
	}
	return p.Positional[0], nil
}
