package sync

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// IgnoreFileName is the file in the source's top folder whose patterns are
// excluded by default, one per line.
const IgnoreFileName = ".s3sealignore"

// Filter decides which paths of the source a sync leaves out. Patterns are
// doublestar globs ("*" within one name, "**" across folders, "?", "[a-z]",
// "{a,b}") matched against slash-separated paths relative to the source:
//
//   - a pattern with no "/" (other than a trailing one) matches a name at any
//     depth: "*.tmp", "node_modules";
//   - any other pattern is anchored at the source's top (a leading "/" is
//     dropped): "/build", "photos/**/*.raw", "**/cache/*";
//   - a trailing "/" makes a pattern match folders only: "tmp/".
//
// A path is excluded when it matches an exclude pattern and no include
// pattern: includes make exceptions to the excludes and exclude nothing by
// themselves. As in gitignore, an excluded folder is not entered, so nothing
// below it can be included again, and none of its files is ever opened.
type Filter struct {
	excludes []pattern
	includes []pattern
}

// pattern is one parsed glob.
type pattern struct {
	glob     string
	dirOnly  bool
	anchored bool // matched against the whole path, not the name
}

// NewFilter parses include and exclude patterns. It fails on a pattern that
// is not a valid glob, naming it.
func NewFilter(includes, excludes []string) (*Filter, error) {
	f := &Filter{}
	var err error
	if f.includes, err = parsePatterns(includes); err != nil {
		return nil, err
	}
	if f.excludes, err = parsePatterns(excludes); err != nil {
		return nil, err
	}
	return f, nil
}

func parsePatterns(globs []string) ([]pattern, error) {
	var out []pattern
	for _, g := range globs {
		p := pattern{glob: g}
		if strings.HasSuffix(p.glob, "/") {
			p.dirOnly = true
			p.glob = strings.TrimRight(p.glob, "/")
		}
		if strings.Contains(p.glob, "/") {
			p.anchored = true
			p.glob = strings.TrimLeft(p.glob, "/")
		}
		if p.glob == "" || !doublestar.ValidatePattern(p.glob) {
			return nil, fmt.Errorf("filter pattern %q is not a valid glob", g)
		}
		out = append(out, p)
	}
	return out, nil
}

// ReadPatterns reads patterns from r, one per line, as .s3sealignore and
// --exclude-from files hold them: blank lines and lines starting with "#"
// are ignored, and a line starting with "!" is an include pattern (an
// exception). Trailing spaces and a trailing "\r" are dropped.
func ReadPatterns(r io.Reader) (includes, excludes []string, err error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \r")
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "!"):
			includes = append(includes, line[1:])
		default:
			excludes = append(excludes, line)
		}
	}
	return includes, excludes, sc.Err()
}

// Skip reports whether the sync leaves rel out; dir says whether rel is a
// folder. It has the signature of Options.Skip and judges rel alone: the
// walk does not enter excluded folders. A nil Filter skips nothing.
func (f *Filter) Skip(rel string, dir bool) bool {
	if f == nil {
		return false
	}
	return matchAny(f.excludes, rel, dir) && !matchAny(f.includes, rel, dir)
}

func matchAny(patterns []pattern, rel string, dir bool) bool {
	for _, p := range patterns {
		if p.dirOnly && !dir {
			continue
		}
		subject := rel
		if !p.anchored {
			subject = path.Base(rel)
		}
		if ok, _ := doublestar.Match(p.glob, subject); ok {
			return true
		}
	}
	return false
}
