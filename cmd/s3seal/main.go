// Command s3seal keeps a local folder backed up, one way, to an S3 bucket,
// with every file encrypted on the client with age.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes. They are listed in the root command's help and in docs/.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitPartial     = 3 // the run finished but some files failed
	exitDiffers     = 4 // audit found differences
	exitInterrupted = 130
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := startProfile()
	cmd, err := newRootCommand().ExecuteContextC(ctx)
	stopProfile()
	code := exitCode(ctx, err) // before stop, which cancels ctx too
	if code != exitOK && code != exitPartial && code != exitDiffers {
		verbose, _ := cmd.Flags().GetBool("verbose")
		printError(os.Stderr, ctx, err, verbose)
	}
	stop()
	os.Exit(code)
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "devel"

func warnf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "s3seal: warning: "+format+"\n", args...)
}
