// Command lookup is a DB-Forge function that reads one row by its id:
// {"id": n} → the row of kv(id, v) as an object, or 404.
package main

import "github.com/praetorian/db-forge/functions/guest"

func init() {
	guest.Handle(func(r *guest.Request) (any, error) {
		var in struct {
			ID int64 `json:"id"`
		}
		if err := r.JSON(&in); err != nil {
			return nil, guest.Errorf(400, "BAD_INPUT", `want {"id": n}`)
		}
		res, err := guest.Query(`SELECT id, v FROM kv WHERE id = ?`, in.ID)
		if err != nil {
			return nil, err
		}
		if len(res.Rows) == 0 {
			return nil, guest.Errorf(404, "NOT_FOUND", "no row %d", in.ID)
		}
		return res.Objects()[0], nil
	})
}

func main() {}
