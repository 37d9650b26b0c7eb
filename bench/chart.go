package bench

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// chartSystems are the bars of each scenario group, in order, with colours.
var chartSystems = []struct {
	name  string
	color color.Color
}{
	{SysGateway, color.RGBA{R: 31, G: 119, B: 180, A: 255}},
	{SysSameEngine, color.RGBA{R: 255, G: 127, B: 14, A: 255}},
	{SysFixed, color.RGBA{R: 44, G: 160, B: 44, A: 255}},
	{SysInProcess, color.RGBA{R: 127, G: 127, B: 127, A: 255}},
}

// Chart draws the report's runs as a PNG: throughput (top) and p99 latency
// (bottom) per scenario, the gateway's bar beside its ceilings', both on
// logarithmic axes so that a 40 req/s bulk insert and a 60,000 req/s fixed
// reply are both readable; each bar carries its value.
func (r *Report) Chart(width, height vg.Length) ([]byte, error) {
	var scenarios []string
	seen := map[string]bool{}
	charted := map[string]bool{}
	for _, s := range chartSystems {
		charted[s.name] = true
	}
	for _, run := range r.Runs {
		// Scenarios of other systems (two kinds of request to the
		// gateway: the rows page against a point SELECT) are in the
		// tables only: the chart's bars are the gateway and its ceilings.
		if charted[run.System] && !seen[run.Scenario] {
			seen[run.Scenario] = true
			scenarios = append(scenarios, run.Scenario)
		}
	}
	if len(scenarios) == 0 {
		return nil, fmt.Errorf("chart: no runs")
	}
	title := fmt.Sprintf("DB-Forge %s suite, %s, %s (%d CPUs, %d connections); in-process: ops/s",
		r.Suite, r.Date, r.Host, r.Machine.CPUs, r.Method.Conns)
	top, err := r.panel(scenarios, title, "throughput, req/s (log)",
		func(run Run) (float64, string) { return run.Throughput, fmtShort(run.Throughput) }, true)
	if err != nil {
		return nil, err
	}
	bottom, err := r.panel(scenarios, "", "p99 latency, ms (log)",
		func(run Run) (float64, string) {
			if run.Latency == nil {
				return 0, ""
			}
			return run.Latency.P99, fmtMs(run.Latency.P99)
		}, false)
	if err != nil {
		return nil, err
	}
	img := vgimg.New(width, height)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2,
		PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4, PadY: vg.Millimeter * 6}
	top.Draw(tiles.At(dc, 0, 0))
	bottom.Draw(tiles.At(dc, 0, 1))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (r *Report) panel(scenarios []string, title, ylabel string, value func(Run) (float64, string), legend bool) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.Y.Label.Text = ylabel
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = shortLogTicks{}
	p.Y.Label.TextStyle.Font.Size = vg.Points(11)
	p.X.Tick.Label.Font.Size = vg.Points(10)
	p.Y.Tick.Label.Font.Size = vg.Points(10)
	labels := make([]string, len(scenarios))
	for i, s := range scenarios {
		labels[i] = strings.ReplaceAll(s, " ", "\n")
	}
	p.NominalX(labels...)
	p.Add(plotter.NewGrid())

	const slot = 0.2 // bar width, in group units
	lo, hi := math.Inf(1), math.Inf(-1)
	type bar struct {
		x, y  float64
		label string
	}
	bars := make([][]bar, len(chartSystems))
	for si, sys := range chartSystems {
		for gi, scn := range scenarios {
			run := r.Find(scn, sys.name)
			if run == nil {
				continue
			}
			v, text := value(*run)
			if v <= 0 {
				continue
			}
			lo, hi = min(lo, v), max(hi, v)
			x := float64(gi) + (float64(si)-float64(len(chartSystems)-1)/2)*slot
			bars[si] = append(bars[si], bar{x, v, text})
		}
	}
	if math.IsInf(lo, 1) {
		return p, nil
	}
	floor := math.Pow(10, math.Floor(math.Log10(lo/2))) // every bar rises at least half a decade
	p.Y.Min = floor
	p.Y.Max = math.Pow(10, math.Ceil(math.Log10(hi*1.8)))
	p.X.Min, p.X.Max = -0.5, float64(len(scenarios))-0.5
	for si, sys := range chartSystems {
		lb := &logBars{floor: floor, width: slot * 0.9, color: sys.color}
		for _, b := range bars[si] {
			lb.xs = append(lb.xs, b.x)
			lb.ys = append(lb.ys, b.y)
			lb.labels = append(lb.labels, b.label)
		}
		p.Add(lb)
		if legend {
			p.Legend.Add(sys.name, lb)
		}
	}
	p.Legend.Top = true
	p.Legend.Left = false
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	return p, nil
}

// logBars are bars that rise from floor, so that they work on a log axis
// (gonum's BarChart rises from 0), each with its value written above it.
// The values are drawn here rather than by plotter.Labels, whose glyph
// boxes make gonum shrink the data area.
type logBars struct {
	xs, ys []float64
	labels []string
	floor  float64
	width  float64 // in x data units
	color  color.Color
}

func (b *logBars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	sty := text.Style{Color: color.Black, Font: font.From(plot.DefaultFont, vg.Points(7)),
		XAlign: draw.XCenter, YAlign: draw.YBottom, Handler: p.TextHandler}
	for i := range b.xs {
		x0, x1 := trX(b.xs[i]-b.width/2), trX(b.xs[i]+b.width/2)
		y0, y1 := trY(b.floor), trY(b.ys[i])
		pts := []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}
		c.FillPolygon(b.color, c.ClipPolygonXY(pts))
		if i < len(b.labels) && b.labels[i] != "" {
			c.FillText(sty, vg.Point{X: (x0 + x1) / 2, Y: y1 + vg.Points(1.5)}, b.labels[i])
		}
	}
}

// Thumbnail draws the legend's swatch.
func (b *logBars) Thumbnail(c *draw.Canvas) {
	pts := []vg.Point{
		{X: c.Min.X, Y: c.Min.Y}, {X: c.Min.X, Y: c.Max.Y},
		{X: c.Max.X, Y: c.Max.Y}, {X: c.Max.X, Y: c.Min.Y},
	}
	c.FillPolygon(b.color, c.ClipPolygonY(pts))
}

// shortLogTicks are log ticks labelled 1, 10, 100, 1k, 10k, 100k, 1M.
type shortLogTicks struct{}

func (shortLogTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.LogTicks{Prec: -1}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = tickLabel(ticks[i].Value)
		}
	}
	return ticks
}

func tickLabel(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', -1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'g', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// fmtShort writes 61234 as "61.2k", 812 as "812", 41.5 as "41.5".
func fmtShort(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.2fk", v/1e3)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}
