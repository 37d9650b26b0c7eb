package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"
)

// Target is where backups are kept: a flat store of objects under
// slash-separated keys (a directory, an S3 bucket). Every implementation
// passes the same contract suite (target_test.go).
type Target interface {
	// Put stores the size bytes of r under key, replacing what is there.
	// A reader never sees a part of it under key (a file is renamed into
	// place; an S3 object appears whole).
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Get opens the object under key; an error wrapping ErrNotFound when
	// there is none.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// List returns the keys that start with prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	// Delete removes the object under key; a missing one is no error.
	Delete(ctx context.Context, key string) error
	// String names the target for the log (never its credentials).
	String() string
}

// ErrNotFound: no object under the key.
var ErrNotFound = errors.New("backup object not found")

// ErrBadKey: a key that is not a clean relative slash path.
var ErrBadKey = errors.New("backup key not a clean relative path")

// checkKey refuses keys that would leave the target's root.
func checkKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || path.Clean(key) != key || key == "." ||
		strings.HasPrefix(key, "../") || key == ".." || strings.ContainsAny(key, "\\\x00") {
		return fmt.Errorf("%w: %q", ErrBadKey, key)
	}
	return nil
}

// Open returns the target that spec names: s3://bucket/prefix for an
// S3-compatible bucket (credentials and endpoint from environ's AWS_*
// variables, see NewS3), anything else a directory (made if needed).
func Open(spec string, environ []string) (Target, error) {
	if spec == "" {
		return nil, errors.New("backup target: empty")
	}
	if strings.HasPrefix(spec, "s3://") {
		u, err := url.Parse(spec)
		if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("backup target %q: want s3://bucket/prefix", spec)
		}
		return NewS3(u.Host, strings.Trim(u.Path, "/"), environ)
	}
	if strings.Contains(spec, "://") {
		return nil, fmt.Errorf("backup target %q: want a directory or s3://bucket/prefix", spec)
	}
	return NewDir(spec)
}
