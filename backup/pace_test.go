package backup

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

type countPacer struct {
	yields, failAt int
}

func (p *countPacer) Start() func(context.Context, time.Duration) error {
	return func(ctx context.Context, took time.Duration) error {
		p.yields++
		if took < 0 {
			return errors.New("negative time")
		}
		if p.failAt > 0 && p.yields >= p.failAt {
			return errStop
		}
		return ctx.Err()
	}
}

var errStop = errors.New("stop")

// An upload's reader is paced: every byte, one yield per MiB, and a
// pacer's error (the service stopping) ends the read.
func TestPacedUpload(t *testing.T) {
	t.Parallel()
	data := bytes.Repeat([]byte("0123456789abcdef"), 5<<16) // 5 MiB
	p := &countPacer{}
	s := &Service{cfg: Config{Pacer: p}}
	var out bytes.Buffer
	if _, err := io.Copy(&out, s.paced(context.Background(), bytes.NewReader(data))); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), data) || p.yields < 4 || p.yields > 5 { // reads may straddle a MiB
		t.Errorf("same bytes %v, %d yields, want one a MiB", bytes.Equal(out.Bytes(), data), p.yields)
	}

	p = &countPacer{failAt: 2}
	s = &Service{cfg: Config{Pacer: p}}
	n, err := io.Copy(io.Discard, s.paced(context.Background(), bytes.NewReader(data)))
	if !errors.Is(err, errStop) || n > 3<<20 {
		t.Errorf("copied %d, %v; want at most 3 MiB, stop", n, err)
	}

	if r := (&Service{}).paced(context.Background(), bytes.NewReader(data)); r == nil {
		t.Error("no pacer: no reader")
	}
}
