package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// newReferenceCommand writes the markdown reference of every command. It is
// hidden: it is for keeping docs/reference in step with the binary.
func newReferenceCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "gen-reference DIR",
		Short:  "Write the markdown reference of every command into DIR",
		Hidden: true,
		Args:   exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return writeReference(cmd.Root(), args[0])
		},
	}
}

// writeReference writes DIR/s3seal.md, DIR/s3seal_sync.md, ... for every
// visible command of the tree, and removes no other file.
func writeReference(root *cobra.Command, dir string) error {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	pages := referencePages(root)
	for name, text := range pages {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// referencePages returns the markdown page of cmd and of each visible
// command below it, by file name.
func referencePages(cmd *cobra.Command) map[string]string {
	pages := map[string]string{referenceName(cmd): referencePage(cmd)}
	for _, c := range cmd.Commands() {
		if !c.IsAvailableCommand() || c.IsAdditionalHelpTopicCommand() {
			continue
		}
		for name, text := range referencePages(c) {
			pages[name] = text
		}
	}
	return pages
}

func referenceName(cmd *cobra.Command) string {
	return strings.ReplaceAll(cmd.CommandPath(), " ", "_") + ".md"
}

func referencePage(cmd *cobra.Command) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\n%s\n\n", cmd.CommandPath(), cmd.Short)
	if cmd.Runnable() {
		fmt.Fprintf(&b, "```\n%s\n```\n\n", cmd.UseLine())
	}
	if cmd.Long != "" {
		fmt.Fprintf(&b, "%s\n\n", cmd.Long)
	}
	if cmd.Example != "" {
		fmt.Fprintf(&b, "## Examples\n\n```\n%s\n```\n\n", strings.TrimRight(cmd.Example, "\n"))
	}
	if flags := cmd.NonInheritedFlags(); flags.HasAvailableFlags() {
		fmt.Fprintf(&b, "## Flags\n\n```\n%s```\n\n", flags.FlagUsages())
	}
	if flags := cmd.InheritedFlags(); flags.HasAvailableFlags() {
		fmt.Fprintf(&b, "## Flags inherited from parent commands\n\n```\n%s```\n\n", flags.FlagUsages())
	}
	var links []string
	if cmd.HasParent() {
		p := cmd.Parent()
		links = append(links, fmt.Sprintf("- [%s](%s): %s", p.CommandPath(), referenceName(p), p.Short))
	}
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() && !c.IsAdditionalHelpTopicCommand() {
			links = append(links, fmt.Sprintf("- [%s](%s): %s", c.CommandPath(), referenceName(c), c.Short))
		}
	}
	if len(links) > 0 {
		fmt.Fprintf(&b, "## See also\n\n%s\n", strings.Join(links, "\n"))
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}
