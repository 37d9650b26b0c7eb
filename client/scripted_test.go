package client_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// newScriptedServer serves h and returns its URL.
func newScriptedServer(t *testing.T, h http.HandlerFunc) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
