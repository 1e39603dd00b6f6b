package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// rateValue is the --bwlimit flag: bytes per second, written as a number
// with an optional suffix k, M or G (powers of 1024, case-insensitive, an
// optional trailing "B" or "/s" allowed): 256k, 10M, 1.5M. 0 means no limit.
type rateValue int64

func (r *rateValue) String() string {
	if *r == 0 {
		return "0"
	}
	return strconv.FormatInt(int64(*r), 10)
}

func (r *rateValue) Type() string { return "RATE" }

func (r *rateValue) Set(s string) error {
	n, err := parseRate(s)
	if err != nil {
		return err
	}
	*r = rateValue(n)
	return nil
}

// parseRate parses a --bwlimit value into bytes per second.
func parseRate(s string) (int64, error) {
	text := strings.TrimSuffix(strings.TrimSpace(s), "/s")
	text = strings.TrimSuffix(strings.TrimSuffix(text, "B"), "b")
	scale := 1.0
	if n := len(text); n > 0 {
		switch text[n-1] {
		case 'k', 'K':
			scale = 1 << 10
		case 'm', 'M':
			scale = 1 << 20
		case 'g', 'G':
			scale = 1 << 30
		}
		if scale != 1 {
			text = text[:n-1]
		}
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("invalid rate %q: want bytes per second such as 256k, 10M or 1.5M", s)
	}
	bytes := v * scale
	if bytes > math.MaxInt64/2 {
		return 0, fmt.Errorf("invalid rate %q: too large", s)
	}
	if v > 0 && bytes < 1 {
		return 0, fmt.Errorf("invalid rate %q: less than one byte per second", s)
	}
	return int64(bytes), nil
}
