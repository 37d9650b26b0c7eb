package diff

import (
	"github.com/praetorian/db-forge/forge"
)

// Each side of a table's merge is stepped by a goroutine of its own,
// which copies rows into batches: the two snapshots' SQLite work (most of
// a diff's time) runs in parallel, and the merge reads plain Go values.
// Batches are recycled, so a scan allocates a few buffers, not a row's.

// batchRows is how many rows a batch holds; batchBytes bounds its TEXT
// and BLOB bytes (a batch ends after the row that passes it), so that
// rows of large values do not multiply a side's memory.
const (
	batchRows  = 256
	batchBytes = 1 << 20
)

type batch struct {
	vals []value // rows × width
	buf  []byte  // TEXT and BLOB bytes of vals
	n    int     // rows
	err  error   // the scan's end: its error, or nil after the last batch
	last bool
}

// prefetched is Rows read ahead by a goroutine.
type prefetched struct {
	rows    Rows
	cols    []string
	width   int
	full    chan *batch
	free    chan *batch
	stop    chan struct{}
	done    chan struct{}
	cur     *batch
	i       int
	err     error
	row     batchRow
	stopped bool
}

// prefetch starts reading rows ahead. Close it before rows' Source.
func prefetch(rows Rows) *prefetched {
	p := &prefetched{rows: rows, cols: rows.Columns(), full: make(chan *batch, 2), free: make(chan *batch, 3),
		stop: make(chan struct{}), done: make(chan struct{})}
	p.width = len(p.cols)
	for range 3 {
		p.free <- &batch{vals: make([]value, batchRows*p.width)}
	}
	go p.read()
	return p
}

func (p *prefetched) read() {
	defer close(p.done)
	for {
		var b *batch
		select {
		case b = <-p.free:
		case <-p.stop:
			return
		}
		b.n, b.buf, b.last, b.err = 0, b.buf[:0], false, nil
		for b.n < batchRows && len(b.buf) < batchBytes {
			if !p.rows.Next() {
				b.last, b.err = true, p.rows.Err()
				break
			}
			r := p.rows.Row()
			row := b.vals[b.n*p.width : (b.n+1)*p.width]
			for i := range row {
				v := valueOf(r, i)
				if v.kind == forge.Text || v.kind == forge.Blob {
					// The bytes' offset and length in buf, which may move
					// while it grows: the slices are made once it is full.
					start := len(b.buf)
					b.buf = append(b.buf, v.b...)
					row[i] = value{kind: v.kind, i: int64(start), f: float64(len(v.b))}
					continue
				}
				row[i] = v
			}
			b.n++
		}
		for j := 0; j < b.n*p.width; j++ {
			if v := &b.vals[j]; v.kind == forge.Text || v.kind == forge.Blob {
				start, n := int(v.i), int(v.f)
				v.b = b.buf[start : start+n : start+n]
			}
		}
		select {
		case p.full <- b:
		case <-p.stop:
			return
		}
		if b.last {
			return
		}
	}
}

// Next steps to the next row.
func (p *prefetched) Next() bool {
	if p.cur != nil {
		p.i++
		if p.i < p.cur.n {
			p.row.vals = p.cur.vals[p.i*p.width : (p.i+1)*p.width]
			return true
		}
		if p.cur.last {
			p.err = p.cur.err
			return false
		}
		p.free <- p.cur // room: the reader holds at most two others
		p.cur = nil
	}
	b, ok := <-p.full
	if !ok {
		return false
	}
	p.cur, p.i = b, 0
	if b.n == 0 {
		p.err = b.err
		return false
	}
	p.row.vals = b.vals[:p.width]
	return true
}

func (p *prefetched) Row() forge.Row    { return &p.row }
func (p *prefetched) Columns() []string { return p.cols }
func (p *prefetched) Err() error        { return p.err }

// Close stops the reader and waits for it, then closes the rows.
func (p *prefetched) Close() {
	if !p.stopped {
		p.stopped = true
		close(p.stop)
		<-p.done
		p.rows.Close()
	}
}

// batchRow is a copied row as a forge.Row.
type batchRow struct{ vals []value }

func (r *batchRow) Kind(i int) forge.Kind { return r.vals[i].kind }
func (r *batchRow) Int(i int) int64       { return r.vals[i].i }
func (r *batchRow) Float(i int) float64   { return r.vals[i].f }
func (r *batchRow) Text(i int) []byte     { return r.vals[i].b }
func (r *batchRow) Blob(i int) []byte     { return r.vals[i].b }
