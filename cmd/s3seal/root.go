package main

import (
	"github.com/spf13/cobra"
)

const exitCodesHelp = `Exit codes:
  0    success
  1    error (nothing or only part of the work was done; see the message)
  2    usage error
  3    the run finished but some files failed (listed above the summary)
  4    audit found differences
  130  interrupted (Ctrl-C or SIGTERM); finished work was recorded
`

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "s3seal",
		Short: "Encrypted one-way backup of a folder to S3, with age",
		Long: `s3seal keeps a local folder backed up, one way, to Amazon S3 or any
S3-compatible store. Every file is encrypted on this machine as a standard age
file before it leaves; the storage provider sees neither content, nor hashes,
nor (by default) names. A local catalog maps each file's content hash to the
ETag of its ciphertext, so only changed files are uploaded.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return flagError(err) })
	root.AddCommand(newSyncCommand(), newRekeyCommand(), newRestoreCommand(), newHistoryCommand(), newAuditCommand(), newCatalogCommand(), newTargetCommand(), newConfigCommand(), newPolicyCommand(), newVersionCommand(),
		newReferenceCommand())
	root.SetUsageTemplate(root.UsageTemplate() + "\n" + exitCodesHelp)
	return root
}
