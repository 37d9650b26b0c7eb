package main

import "testing"

func TestLastInt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want int64
		ok   bool
	}{
		{`{"sql":"SELECT id, name, score FROM kv WHERE id = ?","params":[42]}`, 42, true},
		{`{"params":[7],"sql":"x"}`, 7, true},
		{`[9999]`, 9999, true},
		{`{"sql":"SELECT 1"}`, 1, true},
		{`{}`, 0, false},
		{`[99999999999999999999]`, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			t.Parallel()
			got, ok := lastInt([]byte(tt.body))
			if got != tt.want || ok != tt.ok {
				t.Errorf("lastInt = %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
