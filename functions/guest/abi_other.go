//go:build !wasip1

package guest

// Outside WebAssembly there is no host: the package builds (for vet and
// documentation) and each call of the host fails.

func hostRequest() []byte    { return nil }
func hostRespond([]byte)     {}
func hostContentType(string) {}
func hostLog([]byte)         {}

const noHost = `{"error":{"code":"NO_HOST","message":"not running in DB-Forge"}}`

func hostQuery(string, []byte, bool) (int, bool) { return len(noHost), false }
func hostResultRead(b []byte)                    { copy(b, noHost) }
