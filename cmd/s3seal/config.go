package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// configFileName is the config file under the user's config directory
// ($XDG_CONFIG_HOME/s3seal or ~/.config/s3seal on Linux).
const configFileName = "config.toml"

// pathSettings are the settings that name files: a leading "~/" is the
// home directory, and a relative path is relative to the config file.
var pathSettings = map[string]bool{
	"source": true, "catalog": true, "recipients-file": true, "exclude-from": true,
	"passphrase-file": true, "secret-key-file": true, "identity": true,
}

// secretSettings may not appear in the config: their values would be
// secrets in clear. The hint names the file setting to use instead.
var secretSettings = map[string]string{
	"secret-key":        "secret-key-file",
	"passphrase":        "passphrase-file",
	"secret-access-key": "secret-key-file",
	"aws-secret-key":    "secret-key-file",
}

// defaultConfigPath is where named targets are read from by default.
func defaultConfigPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the config directory: %w", err)
	}
	return filepath.Join(dir, "s3seal", configFileName), nil
}

// targetSettings returns the settings of [targets.NAME] in the config file
// at path, refusing keys outside [targets.*] tables.
func targetSettings(path, name string) (map[string]any, error) {
	var cfg struct {
		Targets map[string]map[string]any `toml:"targets"`
	}
	md, err := toml.DecodeFile(path, &cfg)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, withHint(fmt.Errorf("no config file at %s", path),
			fmt.Sprintf("create it with a [targets.%s] table holding source, target and keys; see docs/config.md", name))
	}
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		return nil, withHint(fmt.Errorf("config %s: unknown setting %q", path, undecoded[0].String()),
			"settings go in [targets.NAME] tables; see docs/config.md")
	}
	settings, ok := cfg.Targets[name]
	if !ok {
		names := make([]string, 0, len(cfg.Targets))
		for n := range cfg.Targets {
			names = append(names, n)
		}
		sort.Strings(names)
		hint := "the file defines no target"
		if len(names) > 0 {
			hint = "the file defines: " + strings.Join(names, ", ")
		}
		return nil, withHint(usagef("no target %q in %s", name, path), hint)
	}
	return settings, nil
}

// applySettings sets every flag of fs that the settings name and the
// command line did not set, so that flags override the config. It returns
// the source and target settings. Values are never quoted in errors: a
// mistyped setting could hold a secret.
func applySettings(fs *pflag.FlagSet, settings map[string]any, where, configDir string) (src, dst string, err error) {
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		at := where + "." + key
		if instead, ok := secretSettings[key]; ok {
			return "", "", withHint(fmt.Errorf("%s: secrets are not kept in the config file in clear", at),
				fmt.Sprintf("put the secret in a file readable only by you and name it with %s", instead))
		}
		values, err := settingValues(settings[key], at)
		if err != nil {
			return "", "", err
		}
		if pathSettings[key] {
			for i, v := range values {
				values[i] = expandPath(v, configDir)
			}
		}
		switch key {
		case "source", "target":
			if len(values) != 1 {
				return "", "", fmt.Errorf("%s: want one string", at)
			}
			if key == "source" {
				src = values[0]
			} else {
				dst = values[0]
			}
			continue
		}
		flag := fs.Lookup(key)
		if flag == nil {
			return "", "", withHint(fmt.Errorf("%s: unknown setting", at), "a setting is the long name of a sync flag, or source or target")
		}
		if flag.Changed {
			continue
		}
		_, list := flag.Value.(pflag.SliceValue)
		if len(values) != 1 && !list {
			return "", "", fmt.Errorf("%s: --%s takes one value, not a list", at, key)
		}
		for _, v := range values {
			if err := fs.Set(key, v); err != nil {
				return "", "", fmt.Errorf("%s: not a valid value for --%s (%s)", at, key, flag.Value.Type())
			}
		}
	}
	if src == "" || dst == "" {
		return "", "", withHint(fmt.Errorf("%s: needs both source and target", where),
			`for example: source = "~/archive" and target = "s3://my-bucket/archive"`)
	}
	return src, dst, nil
}

// settingValues turns a TOML value into flag values.
func settingValues(v any, at string) ([]string, error) {
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case bool, int64, float64:
		return []string{fmt.Sprint(v)}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, elem := range v {
			s, ok := elem.(string)
			if !ok {
				return nil, fmt.Errorf("%s: a list holds strings only", at)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: want a string, number, boolean or list of strings", at)
}

// expandPath resolves "~/" against the home directory and a relative path
// against dir.
func expandPath(p, dir string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	if p == "" || filepath.IsAbs(p) || strings.HasPrefix(p, "s3://") {
		return p
	}
	return filepath.Join(dir, p)
}

func newConfigCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show where named targets are configured",
		Long: `Named targets let a nightly job be one short line: "s3seal sync NAME" reads
source, target, keys and options from [targets.NAME] in the config file, and
any flag given on the command line overrides the file. See docs/config.md.`,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "path",
		Short: "Print the path of the config file",
		Long: `Path prints where s3seal reads named targets from: s3seal/config.toml under
$XDG_CONFIG_HOME, or under ~/.config when that is not set. The file need not
exist.`,
		Example: `  s3seal config path
  $EDITOR "$(s3seal config path)"`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := defaultConfigPath()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), path)
			return nil
		},
	})
	return cmd
}
