// Command insert is a DB-Forge function that validates a post and
// inserts it: {"title": "...", "body": "..."} → {"id": n}. A title that
// is missing or too long is a 422 and nothing is written.
package main

import (
	"strings"

	"github.com/praetorian/db-forge/functions/guest"
)

func init() {
	guest.Handle(func(r *guest.Request) (any, error) {
		var in struct {
			Title string `json:"title"`
			Body  string `json:"body"`
		}
		if err := r.JSON(&in); err != nil {
			return nil, guest.Errorf(400, "BAD_INPUT", "the body must be a JSON object: %v", err)
		}
		in.Title = strings.TrimSpace(in.Title)
		if in.Title == "" || len(in.Title) > 200 {
			return nil, guest.Errorf(422, "INVALID_TITLE", "title must be 1 to 200 characters")
		}
		if _, err := guest.Query(`CREATE TABLE IF NOT EXISTS posts (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT)`); err != nil {
			return nil, err
		}
		res, err := guest.Query(`INSERT INTO posts (title, body) VALUES (?, ?)`, in.Title, in.Body)
		if err != nil {
			return nil, err
		}
		guest.Log("inserted post %d", res.LastInsertID)
		return map[string]int64{"id": res.LastInsertID}, nil
	})
}

func main() {}
