package app

import (
	"runtime/debug"
	"sync"
)

// version is the build's version for GET /health and the OpenAPI
// document: the main module's version when built from a tagged module,
// else "dev" and the VCS revision Go stamped into the binary (when built
// in a checkout), else "dev".
var version = sync.OnceValue(func() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	switch {
	case rev == "":
		return "dev"
	case dirty:
		return "dev+" + rev + ".dirty"
	}
	return "dev+" + rev
})
