// Command aggregate is a DB-Forge function that sums a customer's
// orders: {"customer": "..."} → {"customer", "orders", "total", "average"}
// from the table orders(customer TEXT, amount REAL).
package main

import "github.com/praetorian/db-forge/functions/guest"

func init() {
	guest.Handle(func(r *guest.Request) (any, error) {
		var in struct {
			Customer string `json:"customer"`
		}
		if err := r.JSON(&in); err != nil || in.Customer == "" {
			return nil, guest.Errorf(400, "BAD_INPUT", `want {"customer": "..."}`)
		}
		res, err := guest.Query(`SELECT count(*), coalesce(sum(amount), 0), coalesce(avg(amount), 0) FROM orders WHERE customer = ?`, in.Customer)
		if err != nil {
			return nil, err
		}
		row := res.Rows[0]
		return map[string]any{"customer": in.Customer, "orders": row[0], "total": row[1], "average": row[2]}, nil
	})
}

func main() {}
