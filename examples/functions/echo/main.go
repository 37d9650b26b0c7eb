// Command echo is a DB-Forge function that answers its request body as
// it came (docs/FUNCTIONS.md). Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o echo.wasm .
package main

import "github.com/praetorian/db-forge/functions/guest"

func init() {
	guest.Handle(func(r *guest.Request) (any, error) {
		return guest.Answer{ContentType: "application/json", Body: r.Body}, nil
	})
}

func main() {}
