package main

import "testing"

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"1000", 1000},
		{"256k", 256 << 10},
		{"256K", 256 << 10},
		{"16M", 16 << 20},
		{"5m", 5 << 20},
		{"1.5M", 3 << 19},
		{"2G", 2 << 30},
		{"1T", 1 << 40},
		{"512KB", 512 << 10},
		{"64MiB", 64 << 20},
		{" 8M ", 8 << 20},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "M", "-1M", "fast", "1P", "0.1", "NaN", "Inf", "1e30G", "16M/s"} {
		if got, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) = %d; want an error", bad, got)
		}
	}
}

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"10M", 10 << 20},
		{"1M/s", 1 << 20},
		{"512KB/s", 512 << 10},
	}
	for _, tt := range tests {
		got, err := parseRate(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseRate(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "/s", "-1M", "fast"} {
		if got, err := parseRate(bad); err == nil {
			t.Errorf("parseRate(%q) = %d; want an error", bad, got)
		}
	}
}
