package app

import (
	"io"
	"os"
	"path/filepath"

	"go.uber.org/zap/zapcore"
)

func sharedCacheDir() string { return filepath.Join(os.TempDir(), "db-forge-test-wasm-cache") }

// zapcoreDiscard is a JSON core writing to io.Discard: the access log's full
// cost without its output.
func zapcoreDiscard() zapcore.Core {
	return zapcore.NewCore(zapcore.NewJSONEncoder(zapcore.EncoderConfig{
		MessageKey: "msg", LevelKey: "level", TimeKey: "ts", NameKey: "logger",
		EncodeLevel: zapcore.LowercaseLevelEncoder, EncodeTime: zapcore.ISO8601TimeEncoder,
		EncodeDuration: zapcore.MillisDurationEncoder,
	}), zapcore.AddSync(io.Discard), zapcore.InfoLevel)
}
