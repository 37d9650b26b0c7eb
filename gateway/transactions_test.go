package gateway

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/forge"
)

func TestDecodeTransaction(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want time.Duration
		code string
	}{
		{``, 0, ""},
		{`{}`, 0, ""},
		{`{"timeout": null}`, 0, ""},
		{`{"timeout": 30}`, 30 * time.Second, ""},
		{`{"timeout": 0.25}`, 250 * time.Millisecond, ""},
		{`{"timeout": 1e-12}`, time.Millisecond, ""},
		{`{"timeout": 0}`, 0, CodeInvalidValue},
		{`{"timeout": -1}`, 0, CodeInvalidValue},
		{`{"timeout": 1e400}`, 0, CodeInvalidValue},
		{`{"timeout": 86401}`, 0, CodeInvalidValue},
		{`{"timeout": "10"}`, 0, CodeValidation},
		{`{"timeout": 1, "timeout": 2}`, 0, CodeInvalidJSON},
		{`{"ttl": 1}`, 0, CodeUnknownField},
		{`[]`, 0, CodeValidation},
		{`{`, 0, CodeInvalidJSON},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			t.Parallel()
			got, err := decodeTransaction([]byte(tc.body))
			if tc.code != "" {
				if err == nil || toAPIError(err).code != tc.code {
					t.Fatalf("%v, want %s", err, tc.code)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("%v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func FuzzDecodeTransaction(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"timeout":10}`, `{"timeout":0.5}`, `{"timeout":null}`, `{"timeout":-3}`,
		`{"timeout":1e308}`, `{"timeout":"x"}`, `{"Timeout":1,"timeout":2}`, `{`, `null`,
		`{"read_only":true}`, `{"read_only":false,"timeout":3}`, `{"read_only":1}`, `{"read_only":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, ro, err := decodeBegin(body)
		if d2, err2 := decodeTransaction(body); d2 != d || (err2 == nil) != (err == nil) {
			t.Fatalf("%q: decodeTransaction %v %v, decodeBegin %v %v", body, d2, err2, d, err)
		}
		if err == nil && ro && !strings.Contains(string(body), "true") {
			t.Fatalf("%q: read_only without true", body)
		}
		if err != nil {
			ae := toAPIError(err)
			if ae.status != fasthttp.StatusBadRequest && ae.status != fasthttp.StatusUnprocessableEntity || ae.code == "" {
				t.Fatalf("%q: %v → %d %s", body, err, ae.status, ae.code)
			}
			return
		}
		if d < 0 || d > maxTransactionTimeout*time.Second {
			t.Fatalf("%q: accepted timeout %v", body, d)
		}
	})
}

func TestTransactionErrors(t *testing.T) {
	t.Parallel()
	sqlErr := &forge.SQLError{Message: "UNIQUE constraint failed: t.v", Code: "SQLITE_CONSTRAINT_UNIQUE"}
	tests := []struct {
		name   string
		err    error
		status int
		code   string
		detail string // a part of it
	}{
		{"not found", fmt.Errorf("x: %w", forge.ErrTxNotFound), 404, CodeTransactionNotFound, "Transaction not found"},
		{"expired", forge.ErrTxExpired, 409, CodeTransactionExpired, "expired and it was rolled back"},
		{"aborted by a statement", fmt.Errorf("%w: %w", forge.ErrTxAborted, sqlErr), 409, CodeTransactionAborted,
			"rolled back; nothing of it was committed. What ended it: SQL Error: UNIQUE constraint failed: t.v"},
		{"aborted, wrapped", fmt.Errorf("y: %w", fmt.Errorf("%w: %w", forge.ErrTxAborted, forge.ErrTimeout)), 409, CodeTransactionAborted,
			"What ended it: Query exceeded its time limit"},
		{"aborted bare", forge.ErrTxAborted, 409, CodeTransactionAborted, "nothing of it was committed."},
		{"committed", forge.ErrTxCommitted, 409, CodeTransactionEnded, "committed already"},
		{"rolled back", forge.ErrTxRolledBack, 409, CodeTransactionEnded, "rolled back already"},
		{"limit", fmt.Errorf("db a: %w", forge.ErrTxLimit), 429, CodeTooManyTransactions, "FORGE_MAX_TX_PER_DB"},
		{"in a batch", &forge.StatementError{Index: 2, Err: fmt.Errorf("%w: %w", forge.ErrTxAborted, sqlErr)}, 409, CodeTransactionAborted, "UNIQUE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ae := toAPIError(tc.err)
			if ae.status != tc.status || ae.code != tc.code || !strings.Contains(ae.detail, tc.detail) {
				t.Fatalf("%d %s %q; want %d %s ~%q", ae.status, ae.code, ae.detail, tc.status, tc.code, tc.detail)
			}
		})
	}
	if ae := toAPIError(fmt.Errorf("%w: %w", forge.ErrTxAborted, sqlErr)); ae.sqliteCode != "SQLITE_CONSTRAINT_UNIQUE" {
		t.Errorf("sqlite_code %q", ae.sqliteCode)
	}
}

// fakeTransactions knows no transaction.
type fakeTransactions struct{}

func (fakeTransactions) Begin(context.Context, string, string, time.Duration, bool) (string, time.Time, error) {
	return "tx_1", time.Now().Add(time.Second), nil
}
func (fakeTransactions) Commit(context.Context, string, string, string) error {
	return forge.ErrTxNotFound
}
func (fakeTransactions) Rollback(context.Context, string, string, string) error {
	return forge.ErrTxNotFound
}
func (fakeTransactions) Query(context.Context, string, string, string, forge.Statement, forge.RowWriter) (forge.Result, error) {
	return forge.Result{}, forge.ErrTxNotFound
}
func (fakeTransactions) Batch(context.Context, string, string, string, forge.Batch, forge.BatchOutput) error {
	return forge.ErrTxNotFound
}
