package auth_test

import (
	"errors"
	"fmt"

	"github.com/praetorian/db-forge/auth"
)

// The policy a gateway applies once a key is verified: the route says what
// it needs, Authorize says yes or why not, and for the query route the
// engine later refuses a statement that writes when CanWrite is false.
func ExampleAuthorize() {
	ro := auth.Key{ID: "key_0123456789ab", DB: "agent1", Scope: auth.ScopeReadOnly}
	for _, a := range []auth.Access{
		{DB: "agent1"},              // GET rows, or the query route before the statement is known
		{DB: "agent1", Write: true}, // POST rows, POST tables
		{DB: "agent2"},              // another database
		{Admin: true},               // spawn, prune, list, delete, keys
	} {
		err := auth.Authorize(ro, a)
		fmt.Printf("%+v: %v (403: %v)\n", a, err, errors.Is(err, auth.ErrForbidden))
	}
	fmt.Println("may write:", auth.CanWrite(ro))
	// Output:
	// {Admin:false DB:agent1 Write:false}: <nil> (403: false)
	// {Admin:false DB:agent1 Write:true}: forbidden: API key is read-only (403: true)
	// {Admin:false DB:agent2 Write:false}: forbidden: API key is for another database (403: true)
	// {Admin:true DB: Write:false}: forbidden: admin key required (403: true)
	// may write: false
}

// A request's credentials come from either header; whatever is wrong with
// them is a 401.
func ExampleCredential() {
	tok, err := auth.Credential([]byte("Bearer dbf_example"), nil)
	fmt.Printf("%s %v\n", tok, err)
	_, err = auth.Credential(nil, nil)
	fmt.Println(err, errors.Is(err, auth.ErrUnauthenticated))
	_, err = auth.Credential([]byte("Basic dXNlcjpwYXNz"), nil)
	fmt.Println(err, errors.Is(err, auth.ErrUnauthenticated))
	// Output:
	// dbf_example <nil>
	// unauthenticated: no API key true
	// unauthenticated: malformed credentials true
}
