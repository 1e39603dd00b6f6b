package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// A grant says which credentials a policy action is for.
type grant int

const (
	backup  grant = 1 << iota // the machine that backs up
	deletes                   // the machine that backs up, unless --no-delete
	reads                     // the read-only credential (--read-only)
	denied                    // denied explicitly, in every policy

	// ownerOnly actions are in no policy s3seal prints: they are the bucket
	// owner's, for setting a target up. They are listed so that every S3
	// call s3seal makes has its row.
	ownerOnly grant = 0
)

// policyAction is one IAM action of Amazon S3 that s3seal's policies name
// or that a call of s3seal needs.
type policyAction struct {
	action   string // "s3:PutObject"
	bucket   bool   // the resource is the bucket, not the objects under the prefix
	prefixed bool   // a listing that IAM restricts to the prefix with s3:prefix
	grant    grant
	// calls are the S3 API calls of s3seal that need the action; a call
	// made with a field that changes the permission it needs names it:
	// "GetObject(VersionId)" is a GetObject of one version.
	calls []string
	why   string
}

// policyActions is the one list of what the policies of 'policy' allow
// and deny, and why. The action names and which API call needs which are
// those of the Service Authorization Reference ("Actions, resources, and
// condition keys for Amazon S3") and the S3 User Guide ("Required
// permissions for Amazon S3 API operations"). TestPolicyCoversStoreCalls
// holds it to the calls sync/s3store makes.
var policyActions = []policyAction{
	{"s3:ListBucket", true, true, backup | reads, []string{"HeadBucket", "ListObjectsV2"},
		"list the keys, ETags and sizes under the prefix (IAM refuses HeadBucket, which names no prefix; s3seal then lists instead)"},
	{"s3:ListBucketVersions", true, true, backup | reads, []string{"ListObjectVersions"},
		"list the versions and delete markers under the prefix: history, restore --at, the versions whose retention to extend"},
	{"s3:ListBucketMultipartUploads", true, false, backup | reads, []string{"ListMultipartUploads"},
		"find the uploads an interrupted sync left, to resume or abort them (IAM has no prefix condition for it: unfinished uploads anywhere in the bucket show)"},
	{"s3:GetBucketVersioning", true, false, backup | reads, []string{"GetBucketVersioning"},
		"tell whether the bucket keeps the versions a sync replaces"},
	{"s3:GetBucketObjectLockConfiguration", true, false, backup | reads, []string{"GetObjectLockConfiguration"},
		"tell whether the bucket locks versions"},
	{"s3:GetLifecycleConfiguration", true, false, backup | reads, []string{"GetBucketLifecycleConfiguration"},
		"tell how long the bucket keeps non-current versions"},
	{"s3:GetObject", false, false, backup | reads, []string{"GetObject", "HeadObject", "CopyObject", "UploadPartCopy"},
		"read the catalog mirror and, in passphrase mode, the sealed key (sync), the source of a copy, and files (restore, audit --deep): age ciphertext, which a machine holding only public recipients cannot decrypt"},
	{"s3:GetObjectVersion", false, false, backup | reads, []string{"GetObject(VersionId)"},
		"read a past version (restore --at, history): ciphertext like the current one"},
	{"s3:PutObject", false, false, backup, []string{"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "CopyObject", "UploadPartCopy"},
		"upload files, parts and the catalog mirror, and copy objects; on a versioned bucket an overwrite adds a version and keeps the one it replaces"},
	{"s3:ListMultipartUploadParts", false, false, backup, []string{"ListParts"},
		"see which parts of an interrupted upload the server holds, to resume it"},
	{"s3:AbortMultipartUpload", false, false, backup, []string{"AbortMultipartUpload"},
		"discard an upload that cannot be resumed: its unfinished parts, never a stored version"},
	{"s3:PutObjectRetention", false, false, backup, []string{"PutObjectRetention"},
		"set and extend the retention of versions; shortening it needs s3:BypassGovernanceRetention (denied) and is impossible in compliance mode"},
	{"s3:DeleteObject", false, false, deletes, []string{"DeleteObjects"},
		"sync --delete: a delete without a version ID only adds a delete marker on a versioned bucket, and the versions stay (on an unversioned bucket it destroys the object)"},

	{"s3:DeleteObjectVersion", false, false, denied, []string{"DeleteObject(VersionId)", "DeleteObjects(VersionId)"},
		"delete a version for good"},
	{"s3:BypassGovernanceRetention", false, false, denied, nil,
		"shorten or remove governance-mode retention, and so delete a locked version"},
	{"s3:PutObjectLegalHold", false, false, denied, nil,
		"lift a legal hold the owner placed (s3seal places none)"},
	{"s3:PutBucketVersioning", true, false, denied, []string{"PutBucketVersioning", "CreateBucket(ObjectLockEnabledForBucket)"},
		"suspend versioning, after which overwrites and deletes destroy"},
	{"s3:PutLifecycleConfiguration", true, false, denied, []string{"PutBucketLifecycleConfiguration"},
		"install a rule that expires old versions within a day, or remove the one that keeps them"},
	{"s3:PutBucketObjectLockConfiguration", true, false, denied, []string{"CreateBucket(ObjectLockEnabledForBucket)"},
		"change the bucket's default retention"},
	{"s3:PutBucketPolicy", true, false, denied, nil,
		"replace the bucket policy: drop its protections or open the bucket to others"},
	{"s3:DeleteBucketPolicy", true, false, denied, nil,
		"remove the bucket policy and its protections"},
	{"s3:DeleteBucket", true, false, denied, nil,
		"delete the bucket (S3 refuses while it holds versions)"},

	{"s3:CreateBucket", true, false, ownerOnly, []string{"CreateBucket"},
		"create the bucket (sync -c, target setup): the owner does it once"},
	{"s3:GetObjectRetention", false, false, ownerOnly, []string{"GetObjectRetention"},
		"read a version's retention back: the owner's check that the lock holds (sync records the retention it set and never reads it)"},
	{"s3:ListAllMyBuckets", false, false, ownerOnly, []string{"ListBuckets"},
		"list the account's buckets, for diagnostics"},
}

type policyOptions struct {
	noDelete bool
	readOnly bool
}

func newPolicyCommand() *cobra.Command {
	var o policyOptions
	cmd := &cobra.Command{
		Use:   "policy s3://BUCKET[/PREFIX]",
		Short: "Print the least-privilege IAM policy for a machine that backs up",
		Long: `Policy prints, as JSON, an AWS IAM policy for the credential of the machine
that backs up to the target. It can list, upload, copy, resume and abort its
uploads, extend retention and, for sync --delete, add delete markers, all under
the prefix; it is denied, explicitly, everything that destroys history or
changes what the bucket keeps. Attach it to the user or role the machine uses,
and keep the bucket owner's credential elsewhere. The policy protects history
only on a bucket with versioning on (and, for retention, Object Lock): see
docs/RANSOMWARE.md for the whole setup.

--no-delete leaves out s3:DeleteObject, for a machine that never runs sync
--delete. --read-only prints a policy for a credential that only reads:
restore, audit, history, catalog pull.

Nothing is sent anywhere. Servers other than AWS that read IAM policies may
enforce only some of these actions and conditions: check what yours does.

` + policyActionsHelp(),
		Example: `  s3seal policy s3://my-bucket/archive > s3seal-backup-policy.json
  aws iam put-user-policy --user-name laptop --policy-name s3seal-backup \
      --policy-document file://s3seal-backup-policy.json
  s3seal policy s3://my-bucket/archive --read-only`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := parseTarget(args[0])
			if err != nil {
				return err
			}
			if o.noDelete && o.readOnly {
				return usagef("--no-delete and --read-only do not go together: the read-only credential deletes nothing anyway")
			}
			credential := backup | deletes
			switch {
			case o.readOnly:
				credential = reads
			case o.noDelete:
				credential = backup
			}
			out, err := json.MarshalIndent(iamPolicy(t, credential), "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", out)
			return err
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&o.noDelete, "no-delete", false, "leave out s3:DeleteObject: the machine never runs sync --delete")
	fs.BoolVar(&o.readOnly, "read-only", false, "print the policy of a credential that only reads (restore, audit, history)")
	return cmd
}

// policyDocument is an IAM policy, as AWS reads it.
type policyDocument struct {
	Version   string
	Statement []policyStatement
}

type policyStatement struct {
	Sid       string
	Effect    string
	Action    []string
	Resource  []string
	Condition map[string]map[string][]string `json:",omitempty"`
}

// iamPolicy returns the policy of a credential (backup, backup|deletes or
// reads) for t: what it is granted, on the bucket and on the objects under
// the prefix, and the Deny statement every policy carries.
func iamPolicy(t target, credential grant) policyDocument {
	bucketARN := "arn:aws:s3:::" + t.Bucket
	objectsARN := bucketARN + "/*"
	var condition map[string]map[string][]string
	if t.Prefix != "" {
		prefix := iamLiteral(t.Prefix) + "/"
		objectsARN = bucketARN + "/" + prefix + "*"
		condition = map[string]map[string][]string{"StringLike": {"s3:prefix": {prefix + "*"}}}
	}
	doc := policyDocument{Version: "2012-10-17"}
	add := func(s policyStatement, keep func(policyAction) bool) {
		for _, a := range policyActions {
			if keep(a) {
				s.Action = append(s.Action, a.action)
			}
		}
		if len(s.Action) > 0 {
			doc.Statement = append(doc.Statement, s)
		}
	}
	granted := func(a policyAction) bool { return a.grant&credential != 0 }
	add(policyStatement{Sid: "ListUnderPrefix", Effect: "Allow", Resource: []string{bucketARN}, Condition: condition},
		func(a policyAction) bool { return granted(a) && a.bucket && a.prefixed })
	add(policyStatement{Sid: "ReadBucketSettings", Effect: "Allow", Resource: []string{bucketARN}},
		func(a policyAction) bool { return granted(a) && a.bucket && !a.prefixed })
	add(policyStatement{Sid: "ObjectsUnderPrefix", Effect: "Allow", Resource: []string{objectsARN}},
		func(a policyAction) bool { return granted(a) && !a.bucket })
	// The Deny covers the whole bucket, so that it still holds if someone
	// widens the statements above.
	add(policyStatement{Sid: "NeverDestroyHistory", Effect: "Deny", Resource: []string{bucketARN, bucketARN + "/*"}},
		func(a policyAction) bool { return a.grant == denied })
	return doc
}

// iamLiteral escapes the characters IAM reads as wildcards or variables in
// an ARN or a StringLike value, so that a prefix means itself.
func iamLiteral(s string) string {
	return strings.NewReplacer("$", "${$}", "*", "${*}", "?", "${?}").Replace(s)
}

// policyActionsHelp lists policyActions for the command's help: each
// action, the calls that need it and why.
func policyActionsHelp() string {
	var b strings.Builder
	section := func(title string, keep func(policyAction) bool) {
		fmt.Fprintf(&b, "%s\n", title)
		for _, a := range policyActions {
			if !keep(a) {
				continue
			}
			name := a.action
			if a.grant&backup != 0 && a.grant&reads != 0 {
				name += " *"
			}
			if len(a.calls) > 0 {
				name += " (" + strings.Join(a.calls, ", ") + ")"
			}
			fmt.Fprintf(&b, "%s%s", wrapIndented(name, "  ", "      ", 78), wrapIndented(a.why, "      ", "      ", 78))
		}
		b.WriteString("\n")
	}
	section("Allowed to the machine that backs up (* also with --read-only):", func(a policyAction) bool { return a.grant&(backup|deletes) != 0 })
	section("Denied, in every policy:", func(a policyAction) bool { return a.grant == denied })
	section("In no policy (the bucket owner's):", func(a policyAction) bool { return a.grant == ownerOnly })
	return strings.TrimRight(b.String(), "\n")
}

// wrapIndented breaks text into lines of at most width columns (unless a
// word is longer), the first starting with first and the others with rest.
func wrapIndented(text, first, rest string, width int) string {
	var b strings.Builder
	line, fresh := first, true
	for _, word := range strings.Fields(text) {
		if !fresh && len(line)+1+len(word) > width {
			b.WriteString(line + "\n")
			line, fresh = rest, true
		}
		if !fresh {
			line += " "
		}
		line, fresh = line+word, false
	}
	b.WriteString(line + "\n")
	return b.String()
}
