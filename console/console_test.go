package console

import (
	"bytes"
	"compress/gzip"
	"io"
	"regexp"
	"strings"
	"testing"
)

// TestAssets: every file is served with a content type and a tag, its
// gzip form decompresses to it, and every file the page or a module
// names is there.
func TestAssets(t *testing.T) {
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Lookup(""); !ok {
		t.Fatal("no page")
	}
	if _, ok := a.Lookup("../console.go"); ok {
		t.Fatal("a name outside the assets")
	}
	named := regexp.MustCompile(`(?:href|src)="/console/([^"]+)"|from '\./([^']+)'`)
	for _, name := range a.Names() {
		f, _ := a.Lookup(name)
		if f.ContentType == "" || !strings.HasPrefix(f.ETag, `"`) || !strings.HasSuffix(f.ETag, `"`) {
			t.Errorf("%s: content type %q, tag %q", name, f.ContentType, f.ETag)
		}
		if f.Gzip != nil {
			r, err := gzip.NewReader(bytes.NewReader(f.Gzip))
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(b, f.Body) {
				t.Errorf("%s: its gzip form is not it (%v)", name, err)
			}
		}
		for _, m := range named.FindAllStringSubmatch(string(f.Body), -1) {
			ref := m[1] + m[2]
			if _, ok := a.Lookup(ref); !ok {
				t.Errorf("%s names %s, which is not there", name, ref)
			}
		}
	}
}

// TestValuesAsText: no module writes HTML from a string or evaluates
// one; every value reaches the page as text (ui.js h(), textContent).
// The Content-Security-Policy forbids inline script; this keeps the
// modules from building markup the policy would not catch.
func TestValuesAsText(t *testing.T) {
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	banned := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setAttribute\('style'|\.style\s*=|\son\w+="`)
	for _, name := range a.Names() {
		f, _ := a.Lookup(name)
		if !strings.HasSuffix(name, ".js") && !strings.HasSuffix(name, ".html") {
			continue
		}
		for i, line := range strings.Split(string(f.Body), "\n") {
			if m := banned.FindString(line); m != "" {
				t.Errorf("%s:%d: %s", name, i+1, m)
			}
		}
	}
}
