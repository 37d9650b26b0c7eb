// Command slugify is a DB-Forge function meant to be an SQL function:
// deployed with ?sql_function={"name":"slugify","args":1,"deterministic":true},
// SELECT slugify(title) FROM posts calls it with the arguments as a JSON
// array, and its JSON answer is the value: "Hello, World!" → "hello-world".
package main

import (
	"strings"
	"unicode"

	"github.com/praetorian/db-forge/functions/guest"
)

func init() {
	guest.Handle(func(r *guest.Request) (any, error) {
		v, err := guest.ParseJSON(r.Body)
		args, _ := v.([]any)
		if err != nil || len(args) != 1 {
			return nil, guest.Errorf(400, "BAD_INPUT", "slugify takes one argument")
		}
		s, ok := args[0].(string)
		if !ok {
			return nil, nil // NULL (or a number): NULL
		}
		var b strings.Builder
		dash := false
		for _, c := range strings.ToLower(s) {
			if unicode.IsLetter(c) || unicode.IsDigit(c) {
				b.WriteRune(c)
				dash = false
			} else if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		}
		return strings.TrimSuffix(b.String(), "-"), nil
	})
}

func main() {}
