package main

import "testing"

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"1000", 1000},
		{"256k", 256 << 10},
		{"256K", 256 << 10},
		{"10M", 10 << 20},
		{"1.5M", 3 << 19},
		{"2G", 2 << 30},
		{"512KB", 512 << 10},
		{"1M/s", 1 << 20},
	}
	for _, tt := range tests {
		got, err := parseRate(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseRate(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "M", "-1M", "fast", "1T", "0.1", "NaN", "Inf"} {
		if got, err := parseRate(bad); err == nil {
			t.Errorf("parseRate(%q) = %d; want an error", bad, got)
		}
	}
}
