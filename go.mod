module github.com/praetorian/db-forge

go 1.26.0

require (
	github.com/fasthttp/router v1.5.4
	github.com/ncruces/go-sqlite3 v0.32.0
	github.com/tetratelabs/wazero v1.11.0
	github.com/valyala/fasthttp v1.78.0
	go.uber.org/zap v1.28.0
)

require (
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/molecule-man/go-brrr v1.3.1 // indirect
	github.com/ncruces/julianday v1.0.0 // indirect
	github.com/savsgio/gotils v0.0.0-20240704082632-aef3928b8a38 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	go.uber.org/multierr v1.10.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
