package wasm

import (
	"context"
	"errors"

	"github.com/ncruces/go-sqlite3"

	"github.com/praetorian/db-forge/forge"
)

// SQLFunction is a scalar function a database's connections offer
// (issue 16: a deployed function registered as an SQL function). Call
// runs it on the connection's goroutine, inside the statement that
// calls it; it must not run SQL on the database (the statement holds
// it). An error fails the statement.
type SQLFunction struct {
	Name          string
	Args          int // -1: any number
	Deterministic bool
	Call          func(ctx context.Context, args []forge.Value) (forge.Value, error)
}

// registerFunctions makes fns functions of connection db.
func registerFunctions(db *sqlite3.Conn, fns []SQLFunction) error {
	for _, f := range fns {
		flag := sqlite3.DIRECTONLY
		if f.Deterministic {
			flag |= sqlite3.DETERMINISTIC
		}
		call := f.Call
		err := db.CreateFunction(f.Name, f.Args, flag, func(ctx sqlite3.Context, arg ...sqlite3.Value) {
			args := make([]forge.Value, len(arg))
			for i, a := range arg {
				switch a.Type() {
				case sqlite3.INTEGER:
					args[i] = forge.IntValue(a.Int64())
				case sqlite3.FLOAT:
					args[i] = forge.FloatValue(a.Float())
				case sqlite3.TEXT:
					args[i] = forge.TextValue(a.Text())
				case sqlite3.BLOB:
					args[i] = forge.BlobValue(append([]byte(nil), a.RawBlob()...))
				default:
					args[i] = forge.NullValue()
				}
			}
			v, err := call(context.Background(), args)
			if err != nil {
				var fe *forge.FunctionError
				if errors.As(err, &fe) {
					ctx.ResultError(errors.New(fe.Code + ": " + fe.Message))
				} else {
					ctx.ResultError(err)
				}
				return
			}
			switch v.Kind {
			case forge.Integer:
				ctx.ResultInt64(v.Int)
			case forge.Float:
				ctx.ResultFloat(v.Float)
			case forge.Text:
				ctx.ResultText(v.Str)
			case forge.Blob:
				ctx.ResultBlob(v.Bytes)
			default:
				ctx.ResultNull()
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}
