package gateway

import (
	"testing"

	"github.com/valyala/fasthttp"
)

func TestUnescapeParams(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain", "plain"},
		{"my%20table", "my table"},
		{"a%2Fb", "a/b"},
		{"%E2%9C%93", "✓"},
		{"100%25", "100%"},
		{"a+b", "a+b"},   // a path is not a form: '+' stays
		{"100%", "100%"}, // not an escape: as sent
		{"%zz", "%zz"},
		{"%4", "%4"},
		{"%00", "\x00"}, // decoded; the name checks refuse NUL afterwards
	}
	for _, c := range cases {
		var ctx fasthttp.RequestCtx
		ctx.SetUserValue("table_name", c.in)
		ctx.SetUserValue("db_name", c.in)
		ctx.SetUserValue("other", c.in)
		unescapeParams(&ctx)
		if got := ctx.UserValue("table_name"); got != c.want {
			t.Errorf("table_name %q → %q, want %q", c.in, got, c.want)
		}
		if got := ctx.UserValue("db_name"); got != c.want {
			t.Errorf("db_name %q → %q, want %q", c.in, got, c.want)
		}
		if got := ctx.UserValue("other"); got != c.in {
			t.Errorf("a value that is no route parameter changed: %q → %q", c.in, got)
		}
	}
}
