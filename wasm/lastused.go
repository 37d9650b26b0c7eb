package wasm

import "time"

// LastUsed is when a request last let go of database name (now while one
// holds it), as long as the engine has it open; false once it was closed
// (idle, evicted) or never opened since the start.
func (e *Engine) LastUsed(name string) (time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	db, ok := e.dbs[name]
	if !ok {
		return time.Time{}, false
	}
	if db.refs > 0 {
		return time.Now(), true
	}
	return db.used, !db.used.IsZero()
}
