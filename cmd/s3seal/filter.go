package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/s3seal/s3seal/sync"
)

// filterOptions are the flags that leave files out of a sync.
type filterOptions struct {
	excludes     []string
	includes     []string
	excludeFrom  []string
	noIgnoreFile bool
}

func (o *filterOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.excludes, "exclude", nil, "leave out files and folders matching `GLOB` (\"*.tmp\", \"**/cache/\", \"/build\"); repeatable")
	fs.StringArrayVar(&o.includes, "include", nil, "back up what matches `GLOB` even if an exclude matches it; repeatable")
	fs.StringArrayVar(&o.excludeFrom, "exclude-from", nil, "read exclude patterns from `FILE`, one per line (\"#\" comments, \"!GLOB\" includes); repeatable")
	fs.BoolVar(&o.noIgnoreFile, "no-ignore-file", false, "do not read the patterns in SRC/"+sync.IgnoreFileName)
}

// filter builds the sync's filter from the flags, the --exclude-from files
// and the source's ignore file. It returns nil when nothing is excluded.
func (o *filterOptions) filter(source string) (*sync.Filter, error) {
	includes := append([]string(nil), o.includes...)
	excludes := append([]string(nil), o.excludes...)
	files := append([]string(nil), o.excludeFrom...)
	if !o.noIgnoreFile {
		ignore := filepath.Join(source, sync.IgnoreFileName)
		if _, err := os.Stat(ignore); err == nil {
			files = append(files, ignore)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read ignore file: %w", err)
		}
	}
	for _, path := range files {
		inc, exc, err := readPatternFile(path)
		if err != nil {
			return nil, err
		}
		includes, excludes = append(includes, inc...), append(excludes, exc...)
	}
	if len(excludes) == 0 {
		return nil, nil
	}
	f, err := sync.NewFilter(includes, excludes)
	if err != nil {
		return nil, withHint(usageError{err}, "patterns are globs: * ? [abc] {a,b} and ** for any number of folders")
	}
	return f, nil
}

func readPatternFile(path string) (includes, excludes []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read patterns: %w", err)
	}
	defer f.Close()
	includes, excludes, err = sync.ReadPatterns(f)
	if err != nil {
		return nil, nil, fmt.Errorf("read patterns %s: %w", path, err)
	}
	return includes, excludes, nil
}
