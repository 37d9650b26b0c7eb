// Command lookup is a DB-Forge function that reads one row by its id:
// {"id": n} → the row of table kv with that id as an object, or 404. It
// reads its body with Request.Get and answers the row guest.QueryRow
// gives, which the host encodes: nothing of the row is read or written
// in WebAssembly, the fast path.
package main

import (
	"errors"

	"github.com/praetorian/db-forge/functions/guest"
)

func init() {
	guest.Handle(func(r *guest.Request) (any, error) {
		id, ok, err := r.Get("id")
		if err != nil || !ok {
			return nil, guest.Errorf(400, "BAD_INPUT", `want {"id": n}`)
		}
		row, err := guest.QueryRow(`SELECT * FROM kv WHERE id = ?`, id)
		if errors.Is(err, guest.ErrNoRows) {
			return nil, guest.Errorf(404, "NOT_FOUND", "no row %v", id)
		}
		if err != nil {
			return nil, err
		}
		return row, nil
	})
}

func main() {}
