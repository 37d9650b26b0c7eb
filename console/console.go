// Package console is the web console's files: a page, its style sheet and
// its JavaScript modules, embedded in the binary (no build step, no CDN)
// and served by whoever holds an Assets (the gateway, at GET /console).
// The console holds no data: everything it shows comes from the public
// API, called from the browser with the key the user signed in with.
//
// The package knows no HTTP server: it answers a name with the bytes to
// send (plain and gzip-compressed), their content type and an entity tag.
// The files obey a strict Content-Security-Policy (the gateway's, see
// gateway/console.go): no inline script or style, no other origin; every
// value from a database is rendered as text (textContent), never HTML.
package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"io/fs"
	"mime"
	"path"
	"sort"
	"strings"
)

//go:embed assets
var embedded embed.FS

// Index is the page's name: what GET /console serves.
const Index = "index.html"

// File is one file of the console, ready to send.
type File struct {
	Body        []byte // as is
	Gzip        []byte // gzip-compressed; nil when compression does not pay
	ContentType string
	ETag        string // a strong entity tag, quoted, of Body
}

// Assets are the console's files by name (flat: "app.js", "style.css").
// Built once; read-only after.
type Assets struct {
	files map[string]File
}

// New reads the embedded files, and compresses and tags each once.
func New() (*Assets, error) {
	a := &Assets{files: map[string]File{}}
	err := fs.WalkDir(embedded, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := embedded.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "assets/")
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			return fmt.Errorf("console: %s: no content type for its extension", name)
		}
		if path.Ext(name) == ".js" { // whatever the system's mime table says
			ct = "text/javascript; charset=utf-8"
		}
		sum := sha256.Sum256(body)
		f := File{Body: body, ContentType: ct, ETag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
		if z := compress(body); len(z) < len(body)*9/10 {
			f.Gzip = z
		}
		a.files[name] = f
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, ok := a.files[Index]; !ok {
		return nil, fmt.Errorf("console: no %s", Index)
	}
	return a, nil
}

// Lookup is the file of that name ("" is the page).
func (a *Assets) Lookup(name string) (File, bool) {
	if name == "" {
		name = Index
	}
	f, ok := a.files[name]
	return f, ok
}

// Names are the files' names, sorted.
func (a *Assets) Names() []string {
	names := make([]string, 0, len(a.files))
	for n := range a.files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func compress(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}
