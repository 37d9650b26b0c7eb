package gateway

import "testing"

func TestReadsFirst(t *testing.T) {
	for sql, want := range map[string]bool{
		"SELECT 1":                             true,
		"  select * from t":                    true,
		"(SELECT 1)":                           true,
		"VALUES (1)":                           true,
		"WITH x AS (SELECT 1) SELECT * FROM x": true,
		"WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x": true, // routed first to the read, which hands it on
		"-- c\nSELECT 1":           true,
		"/* c */SELECT 1":          true,
		"SELECT":                   true,
		"INSERT INTO t VALUES (1)": false,
		"selected":                 false,
		"SELECT_x":                 false,
		"PRAGMA table_info(t)":     false,
		"-- only a comment":        false,
		"/* open":                  false,
		"":                         false,
	} {
		if got := readsFirst(sql); got != want {
			t.Errorf("readsFirst(%q) = %v, want %v", sql, got, want)
		}
	}
}
