package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// parseSize parses an amount of bytes written as a number with an optional
// suffix k, M, G or T (powers of 1024, case-insensitive), which may be
// followed by "B" or "iB": 4096, 256k, 16M, 1.5GiB. Every flag and setting
// that takes bytes goes through it.
func parseSize(s string) (int64, error) {
	text := strings.TrimSpace(s)
	for _, unit := range []string{"iB", "B", "b"} {
		if t, ok := strings.CutSuffix(text, unit); ok {
			text = t
			break
		}
	}
	scale := 1.0
	if n := len(text); n > 0 {
		if i := strings.IndexByte("kmgt", lower(text[n-1])); i >= 0 {
			scale = math.Pow(1024, float64(i+1))
			text = text[:n-1]
		}
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("invalid size %q: want bytes such as 4096, 256k, 16M or 1.5G", s)
	}
	bytes := v * scale
	if bytes > math.MaxInt64/2 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	if v > 0 && bytes < 1 {
		return 0, fmt.Errorf("invalid size %q: less than one byte", s)
	}
	return int64(bytes), nil
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// sizeValue is a flag that takes a size (see parseSize).
type sizeValue int64

// String writes the size in the largest unit that divides it: 16M, 4100.
func (v *sizeValue) String() string {
	n := int64(*v)
	for _, unit := range []string{"T", "G", "M", "k"} {
		scale := int64(1) << (10 * (strings.Index("kMGT", unit) + 1))
		if n != 0 && n%scale == 0 {
			return strconv.FormatInt(n/scale, 10) + unit
		}
	}
	return strconv.FormatInt(n, 10)
}

func (v *sizeValue) Type() string { return "SIZE" }

func (v *sizeValue) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	*v = sizeValue(n)
	return nil
}

// rateValue is the --bwlimit flag: bytes per second, a size (see
// parseSize) with an optional "/s": 256k, 10M, 1.5M/s. 0 means no limit.
type rateValue int64

func (r *rateValue) String() string { return strconv.FormatInt(int64(*r), 10) }

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
	n, err := parseSize(strings.TrimSuffix(strings.TrimSpace(s), "/s"))
	if err != nil {
		return 0, fmt.Errorf("invalid rate %q: want bytes per second such as 256k, 10M or 1.5M", s)
	}
	return n, nil
}

// ageValue is a pflag.Value for a duration that also takes days: "3d",
// "1.5d", or anything time.ParseDuration reads ("12h", "90m").
type ageValue time.Duration

func (a *ageValue) String() string {
	if *a == 0 {
		return ""
	}
	return time.Duration(*a).String()
}

func (a *ageValue) Type() string { return "age" }

func (a *ageValue) Set(s string) error {
	d, err := parseAge(s)
	if err != nil {
		return err
	}
	*a = ageValue(d)
	return nil
}

// parseAge reads "3d", "1.5d", or a time.ParseDuration duration, not
// negative.
func parseAge(s string) (time.Duration, error) {
	if num, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.ParseFloat(num, 64); err == nil && days >= 0 {
			return time.Duration(days * 24 * float64(time.Hour)), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return d, nil
	}
	return 0, fmt.Errorf("%q is not an age such as 3d, 12h or 90m", s)
}
