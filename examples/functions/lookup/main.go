// Command lookup is a DB-Forge function that reads one row by its id:
// {"id": n} → the row of table kv with that id as an object, or 404. It
// reads its body with Request.Get and answers a guest.Row: no reflection
// and no map, the fast path in WebAssembly.
package main

import "github.com/praetorian/db-forge/functions/guest"

func init() {
	guest.Handle(func(r *guest.Request) (any, error) {
		id, ok, err := r.Get("id")
		if err != nil || !ok {
			return nil, guest.Errorf(400, "BAD_INPUT", `want {"id": n}`)
		}
		res, err := guest.Query(`SELECT * FROM kv WHERE id = ?`, id)
		if err != nil {
			return nil, err
		}
		if len(res.Rows) == 0 {
			return nil, guest.Errorf(404, "NOT_FOUND", "no row %v", id)
		}
		return res.Row(0), nil
	})
}

func main() {}
