package main

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// printPolicy runs 's3seal policy' and returns the document it prints,
// after checking that it has the shape of an IAM policy: Version
// 2012-10-17 and statements of Sid, Effect, Action, Resource and an
// optional Condition, and nothing else.
func printPolicy(t testing.TB, args ...string) policyDocument {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"policy"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("s3seal policy %v: %v\n%s", args, err, stderr.String())
	}
	var generic map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &generic); err != nil {
		t.Fatalf("s3seal policy %v printed no JSON object: %v\n%s", args, err, stdout.String())
	}
	if v := generic["Version"]; v != "2012-10-17" || len(generic) != 2 {
		t.Fatalf("s3seal policy %v: top level %v; want Version 2012-10-17 and Statement only", args, slices.Sorted(maps.Keys(generic)))
	}
	statements, ok := generic["Statement"].([]any)
	if !ok || len(statements) == 0 {
		t.Fatalf("s3seal policy %v: Statement is %T, want a non-empty list", args, generic["Statement"])
	}
	sid := regexp.MustCompile(`^[A-Za-z0-9]+$`)
	for i, raw := range statements {
		s, _ := raw.(map[string]any)
		for key := range s {
			if !slices.Contains([]string{"Sid", "Effect", "Action", "Resource", "Condition"}, key) {
				t.Errorf("statement %d has %s, which IAM does not know", i, key)
			}
		}
		if id, _ := s["Sid"].(string); !sid.MatchString(id) {
			t.Errorf("statement %d: Sid %q; IAM takes letters and digits only", i, s["Sid"])
		}
		if e := s["Effect"]; e != "Allow" && e != "Deny" {
			t.Errorf("statement %d: Effect %v", i, e)
		}
		for _, key := range []string{"Action", "Resource"} {
			list, _ := s[key].([]any)
			if len(list) == 0 {
				t.Errorf("statement %d: %s is %v; want a non-empty list", i, key, s[key])
			}
			for _, item := range list {
				if str, _ := item.(string); !strings.HasPrefix(str, map[string]string{"Action": "s3:", "Resource": "arn:aws:s3:::"}[key]) {
					t.Errorf("statement %d: %s entry %v", i, key, item)
				}
			}
		}
	}
	if !bytes.HasPrefix(stdout.Bytes(), []byte("{\n  \"Version\"")) {
		t.Errorf("s3seal policy %v is not indented by 2 spaces:\n%s", args, stdout.String())
	}
	var doc policyDocument
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// deniedActions are the actions whose Deny the issue asks for: each
// destroys history or changes what the bucket keeps.
var deniedActions = []string{
	"s3:DeleteObjectVersion", "s3:BypassGovernanceRetention", "s3:PutBucketVersioning",
	"s3:PutLifecycleConfiguration", "s3:PutBucketObjectLockConfiguration", "s3:PutObjectLegalHold",
	"s3:DeleteBucket", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy",
}

// TestPolicyGrants checks what each printed policy allows and refuses, as
// IAM would judge it (the evaluation of iam_test.go), for the backing-up
// machine, one that never deletes, and a read-only credential.
func TestPolicyGrants(t *testing.T) {
	t.Parallel()
	const bucket = "arn:aws:s3:::my-bucket"
	list := func(action, prefix string) iamRequest {
		return iamRequest{action: action, resource: bucket, context: map[string]string{"s3:prefix": prefix}}
	}
	head := iamRequest{action: "s3:ListBucket", resource: bucket} // HeadBucket, or a listing of the whole bucket
	object := func(action, key string) iamRequest { return iamRequest{action: action, resource: bucket + "/" + key} }
	onBucket := func(action string) iamRequest { return iamRequest{action: action, resource: bucket} }

	write, read := []string{"s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:PutObjectRetention"},
		[]string{"s3:GetObject", "s3:GetObjectVersion"}
	type check struct {
		req  iamRequest
		want bool
	}
	var common []check
	for _, action := range append(slices.Clone(write), append(read, "s3:DeleteObject")...) {
		common = append(common, check{object(action, "other/x"), false}, check{object(action, "archived/x"), false})
	}
	for _, action := range deniedActions {
		common = append(common, check{object(action, "archive/x"), false}, check{onBucket(action), false})
	}
	common = append(common,
		check{list("s3:ListBucket", "other/"), false}, check{list("s3:ListBucket", "archive"), false},
		check{list("s3:ListBucketVersions", ""), false}, check{head, false},
		check{onBucket("s3:CreateBucket"), false}, check{iamRequest{action: "s3:ListAllMyBuckets", resource: "*"}, false})
	reads := []check{
		{list("s3:ListBucket", "archive/"), true}, {list("s3:ListBucketVersions", "archive/.s3seal/"), true},
		{onBucket("s3:ListBucketMultipartUploads"), true}, {onBucket("s3:GetBucketVersioning"), true},
		{onBucket("s3:GetBucketObjectLockConfiguration"), true}, {onBucket("s3:GetLifecycleConfiguration"), true},
	}
	for _, action := range read {
		reads = append(reads, check{object(action, "archive/ab/cdef"), true}, check{object(action, "archive/.s3seal/catalog.age"), true})
	}
	writes := func(allowed bool) []check {
		var checks []check
		for _, action := range write {
			checks = append(checks, check{object(action, "archive/ab/cdef"), allowed})
		}
		return checks
	}
	deleting := func(allowed bool) []check { return []check{{object("s3:DeleteObject", "archive/ab/cdef"), allowed}} }

	for _, tc := range []struct {
		args   []string
		checks []check
	}{
		{nil, slices.Concat(common, reads, writes(true), deleting(true))},
		{[]string{"--no-delete"}, slices.Concat(common, reads, writes(true), deleting(false))},
		{[]string{"--read-only"}, slices.Concat(common, reads, writes(false), deleting(false))},
	} {
		doc := printPolicy(t, append([]string{"s3://my-bucket/archive"}, tc.args...)...)
		for _, c := range tc.checks {
			if got := doc.allows(t, c.req); got != c.want {
				t.Errorf("policy %v allows %v = %v; want %v", tc.args, c.req, got, c.want)
			}
		}
		for _, s := range doc.Statement {
			for _, action := range s.Action {
				if s.Effect == "Allow" && slices.Contains(deniedActions, action) {
					t.Errorf("policy %v: statement %s allows %s", tc.args, s.Sid, action)
				}
			}
			if s.Effect == "Allow" {
				for _, r := range s.Resource {
					if r != bucket && r != bucket+"/archive/*" {
						t.Errorf("policy %v: statement %s allows on %s; want the bucket or the objects under archive/", tc.args, s.Sid, r)
					}
				}
			}
		}
	}
}

// TestPolicyPrefixes checks the resources of a target without a prefix
// (the whole bucket, no condition) and of one whose prefix holds the
// characters IAM reads as wildcards, which must mean themselves.
func TestPolicyPrefixes(t *testing.T) {
	t.Parallel()
	whole := printPolicy(t, "s3://my-bucket")
	for _, c := range []struct {
		req  iamRequest
		want bool
	}{
		{iamRequest{action: "s3:ListBucket", resource: "arn:aws:s3:::my-bucket"}, true},
		{iamRequest{action: "s3:PutObject", resource: "arn:aws:s3:::my-bucket/any/key"}, true},
		{iamRequest{action: "s3:PutObject", resource: "arn:aws:s3:::other-bucket/any/key"}, false},
		{iamRequest{action: "s3:DeleteObjectVersion", resource: "arn:aws:s3:::my-bucket/any/key"}, false},
	} {
		if got := whole.allows(t, c.req); got != c.want {
			t.Errorf("policy of s3://my-bucket allows %v = %v; want %v", c.req, got, c.want)
		}
	}

	odd := printPolicy(t, "s3://my-bucket/a*b?c$d")
	for _, c := range []struct {
		req  iamRequest
		want bool
	}{
		{iamRequest{action: "s3:PutObject", resource: "arn:aws:s3:::my-bucket/a*b?c$d/key"}, true},
		{iamRequest{action: "s3:PutObject", resource: "arn:aws:s3:::my-bucket/aXXbYc$d/key"}, false},
		{iamRequest{action: "s3:ListBucket", resource: "arn:aws:s3:::my-bucket", context: map[string]string{"s3:prefix": "a*b?c$d/"}}, true},
		{iamRequest{action: "s3:ListBucket", resource: "arn:aws:s3:::my-bucket", context: map[string]string{"s3:prefix": "abXc$d/"}}, false},
	} {
		if got := odd.allows(t, c.req); got != c.want {
			t.Errorf("policy of s3://my-bucket/a*b?c$d allows %v = %v; want %v", c.req, got, c.want)
		}
	}
}

// TestPolicyUsageErrors checks the refusals of 'policy'.
func TestPolicyUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"s3://my-bucket/archive", "--no-delete", "--read-only"},
		{"my-bucket/archive"},
		{},
	} {
		cmd := exec.Command(binary, append([]string{"policy"}, args...)...)
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		err := cmd.Run()
		if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != exitUsage {
			t.Errorf("s3seal policy %v: %v; want exit %d", args, err, exitUsage)
		}
		if stdout.Len() > 0 {
			t.Errorf("s3seal policy %v printed %q; want nothing on a usage error", args, stdout.String())
		}
	}
}

// ownerCalls are the Store methods that only the bucket's owner runs, with
// why: their S3 calls must be granted by no policy s3seal prints.
var ownerCalls = map[string]string{
	"CreateBucket":      "sync -c and target setup create the bucket, with the owner's credential",
	"EnableVersioning":  "target setup turns versioning on",
	"SetLifecycle":      "target setup installs the lifecycle rule",
	"DeleteVersion":     "for tests and the owner's tools: the engine never deletes a version",
	"SuspendVersioning": "the owner's tools and tests: s3seal never turns history off",
	"RetentionOf":       "the owner's check that the lock holds, and tests",
	"Buckets":           "diagnostics",
}

// TestPolicyCoversStoreCalls holds policyActions to the code: it reads
// sync/s3store, finds every S3 API call each Store method makes (directly
// or through other Store methods), and checks that each call has a row in
// policyActions; that every row a method of the engine's interfaces (and
// CheckBucket, which every command runs first) needs is granted to the
// machine that backs up; that no row an owner's method needs is granted to
// anyone; and that no granted row goes unused. A new SDK call, or a new
// Store method, without its policy row fails here.
func TestPolicyCoversStoreCalls(t *testing.T) {
	t.Parallel()
	calls := storeCalls(t)
	engine := interfaceMethods(t, "../../sync")
	engine["CheckBucket"] = true
	used := make(map[string]bool)
	// An owner's method may read what the engine reads too (target setup
	// reads the lifecycle rules it merges its own into).
	engineCall := make(map[string]bool)
	for method, cs := range calls {
		if engine[method] {
			for _, c := range cs {
				engineCall[c.op] = true
			}
		}
	}
	for _, method := range slices.Sorted(maps.Keys(calls)) {
		isOwner := ownerCalls[method] != ""
		if !isOwner && !engine[method] && token.IsExported(method) {
			t.Errorf("Store.%s makes S3 calls %v but is in no engine interface and not in ownerCalls: say who runs it", method, calls[method])
			continue
		}
		for _, call := range calls[method] {
			rows := rowsFor(call)
			if len(rows) == 0 {
				t.Errorf("Store.%s calls %s, which no row of policyActions lists", method, call)
			}
			for _, row := range rows {
				used[row.action] = true
				switch {
				case isOwner && row.grant&(backup|deletes|reads) != 0 && !engineCall[call.op]:
					t.Errorf("Store.%s (%s) calls %s, which needs %s; a policy grants it", method, ownerCalls[method], call, row.action)
				case !isOwner && engine[method] && row.grant&(backup|deletes) == 0:
					t.Errorf("Store.%s, which the engine calls, calls %s, which needs %s; the backing-up policy does not grant it", method, call, row.action)
				}
			}
		}
	}
	for _, row := range policyActions {
		if row.grant&(backup|deletes|reads) != 0 && !used[row.action] {
			t.Errorf("policy grants %s, which no S3 call of sync/s3store needs (calls listed: %v)", row.action, row.calls)
		}
	}
}

// rowsFor returns the rows of policyActions that a call needs: those that
// list its operation, and those that list it with fields it sets.
func rowsFor(call storeCall) []policyAction {
	var rows []policyAction
	for _, row := range policyActions {
		for _, listed := range row.calls {
			op, fields, _ := strings.Cut(strings.TrimSuffix(listed, ")"), "(")
			if op == call.op && (fields == "" || !slices.ContainsFunc(strings.Split(fields, ","), func(f string) bool { return !slices.Contains(call.fields, f) })) {
				rows = append(rows, row)
				break
			}
		}
	}
	return rows
}

// storeCall is one S3 API call, with the input fields it sets that change
// the permission it needs.
type storeCall struct {
	op     string
	fields []string
}

func (c storeCall) String() string {
	if len(c.fields) == 0 {
		return c.op
	}
	return c.op + "(" + strings.Join(c.fields, ",") + ")"
}

// permissionFields are the input fields of the SDK that make a call need
// another or one more IAM action (S3 User Guide, "Required permissions for
// Amazon S3 API operations").
var permissionFields = []string{"VersionId", "ObjectLockMode", "ObjectLockRetainUntilDate",
	"ObjectLockLegalHoldStatus", "BypassGovernanceRetention", "ObjectLockEnabledForBucket"}

// storeCalls returns, by Store method, the S3 API calls it makes: the
// s.client.Op(...) calls and s3.NewOpPaginator(s.client, ...) of its body
// and of the Store methods it calls. A permission field set anywhere in a
// method (a composite literal key or an assignment) is counted for each of
// its calls, which may ask for more than a call needs, never less.
func storeCalls(t *testing.T) map[string][]storeCall {
	t.Helper()
	files, err := filepath.Glob("../../sync/s3store/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sources in sync/s3store: %v", err)
	}
	direct := make(map[string][]storeCall)
	callees := make(map[string][]string)
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || fn.Body == nil || len(fn.Recv.List[0].Names) == 0 {
				continue
			}
			if star, ok := fn.Recv.List[0].Type.(*ast.StarExpr); !ok || !isIdent(star.X, "Store") {
				continue
			}
			ops, methods, fields := scanMethod(fn.Body, fn.Recv.List[0].Names[0].Name)
			for _, op := range ops {
				direct[fn.Name.Name] = append(direct[fn.Name.Name], storeCall{op, fields})
			}
			callees[fn.Name.Name] = methods
		}
	}
	all := make(map[string][]storeCall)
	for method := range callees {
		seen := map[string]bool{}
		var walk func(string)
		walk = func(m string) {
			if seen[m] {
				return
			}
			seen[m] = true
			all[method] = append(all[method], direct[m]...)
			for _, callee := range callees[m] {
				walk(callee)
			}
		}
		walk(method)
		if len(all[method]) == 0 {
			delete(all, method)
		}
	}
	return all
}

// scanMethod returns the S3 operations body calls through recv.client, the
// methods it calls on recv, and the permission fields it sets.
func scanMethod(body *ast.BlockStmt, recv string) (ops, methods, fields []string) {
	addField := func(name string) {
		if slices.Contains(permissionFields, name) && !slices.Contains(fields, name) {
			fields = append(fields, name)
		}
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			sel, ok := n.Fun.(*ast.SelectorExpr)
			if !ok {
				break
			}
			switch {
			case isClient(sel.X, recv):
				ops = append(ops, sel.Sel.Name)
			case isIdent(sel.X, "s3") && strings.HasPrefix(sel.Sel.Name, "New") && strings.HasSuffix(sel.Sel.Name, "Paginator") &&
				len(n.Args) > 0 && isClient(n.Args[0], recv):
				ops = append(ops, strings.TrimSuffix(strings.TrimPrefix(sel.Sel.Name, "New"), "Paginator"))
			case isIdent(sel.X, recv):
				methods = append(methods, sel.Sel.Name)
			}
		case *ast.KeyValueExpr:
			if key, ok := n.Key.(*ast.Ident); ok {
				addField(key.Name)
			}
		case *ast.AssignStmt:
			for _, lhs := range n.Lhs {
				if sel, ok := lhs.(*ast.SelectorExpr); ok {
					addField(sel.Sel.Name)
				}
			}
		}
		return true
	})
	slices.Sort(fields)
	return ops, methods, fields
}

// isClient reports whether e is recv.client.
func isClient(e ast.Expr, recv string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "client" && isIdent(sel.X, recv)
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

// interfaceMethods returns the method names of the interfaces declared in
// the non-test Go files of dir: the engine's contract with a bucket.
func interfaceMethods(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no sources in %s: %v", dir, err)
	}
	methods := make(map[string]bool)
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if it, ok := n.(*ast.InterfaceType); ok {
				for _, m := range it.Methods.List {
					for _, name := range m.Names {
						methods[name.Name] = true
					}
				}
			}
			return true
		})
	}
	return methods
}
