package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	gosync "sync"
	"testing"
)

// The test gateway, versitygw, does not enforce IAM policies, so the tests
// here play IAM themselves: iamProxy sits in front of the gateway, works out
// which IAM actions each request needs, the way Amazon S3 documents it
// ("Required permissions for Amazon S3 API operations", S3 User Guide), and
// refuses with 403 AccessDenied any request the policy does not allow. The
// evaluation is IAM's for one identity policy: an explicit Deny wins, then
// any Allow, else the request is refused. It knows the policy language the
// 'policy' command writes (exact actions, ARN wildcards, StringLike) and
// fails the test on anything else, rather than allow what it cannot judge.
// A DeleteObjects with a key it refuses is refused whole, where AWS answers
// key by key in the response body; s3seal's delete fails either way.

// iamRequest is one action a request needs, on one resource.
type iamRequest struct {
	action   string
	resource string
	context  map[string]string // condition keys: s3:prefix
}

func (r iamRequest) String() string {
	if p, ok := r.context["s3:prefix"]; ok {
		return fmt.Sprintf("%s on %s with s3:prefix %q", r.action, r.resource, p)
	}
	return r.action + " on " + r.resource
}

// allows reports whether doc allows r.
func (doc policyDocument) allows(t testing.TB, r iamRequest) bool {
	t.Helper()
	allowed := false
	for _, s := range doc.Statement {
		if !slices.Contains(s.Action, r.action) || !slices.ContainsFunc(s.Resource, func(p string) bool { return iamMatch(p, r.resource) }) {
			continue
		}
		if !conditionHolds(t, s.Condition, r.context) {
			continue
		}
		switch s.Effect {
		case "Deny":
			return false
		case "Allow":
			allowed = true
		default:
			t.Fatalf("statement %s: effect %q", s.Sid, s.Effect)
		}
	}
	return allowed
}

// conditionHolds evaluates a Condition block: every operator and key must
// hold, and a key the request does not carry does not.
func conditionHolds(t testing.TB, condition map[string]map[string][]string, context map[string]string) bool {
	t.Helper()
	for op, keys := range condition {
		if op != "StringLike" {
			t.Fatalf("condition operator %s: the emulated IAM knows only StringLike", op)
		}
		for key, patterns := range keys {
			value, ok := context[key]
			if !ok || !slices.ContainsFunc(patterns, func(p string) bool { return iamMatch(p, value) }) {
				return false
			}
		}
	}
	return true
}

// iamMatch matches s against an IAM pattern: * is any run of characters,
// ? any one, and ${*}, ${?}, ${$} are those characters themselves.
func iamMatch(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	for _, literal := range []string{"${*}", "${?}", "${$}"} {
		if rest, ok := strings.CutPrefix(pattern, literal); ok {
			return strings.HasPrefix(s, literal[2:3]) && iamMatch(rest, s[1:])
		}
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if iamMatch(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && iamMatch(pattern[1:], s[1:])
	}
	return s != "" && s[0] == pattern[0] && iamMatch(pattern[1:], s[1:])
}

// iamRequests returns what an S3 request (path-style) needs, following the
// S3 User Guide's table of API operations and policy actions. body is the
// request body of a DeleteObjects, nil otherwise.
func iamRequests(r *http.Request, body []byte) []iamRequest {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	q := r.URL.Query()
	bucketARN := "arn:aws:s3:::" + bucket
	on := func(action string) iamRequest { return iamRequest{action: action, resource: bucketARN + "/" + key} }
	onBucket := func(action string) iamRequest { return iamRequest{action: action, resource: bucketARN} }
	listing := func(action string) iamRequest {
		req := onBucket(action)
		if q.Has("prefix") {
			req.context = map[string]string{"s3:prefix": q.Get("prefix")}
		}
		return req
	}
	switch {
	case bucket == "":
		return []iamRequest{{action: "s3:ListAllMyBuckets", resource: "*"}}
	case key == "":
		return bucketRequests(r, q, body, bucketARN, onBucket, listing)
	}
	var needs []iamRequest
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		switch {
		case q.Has("uploadId"):
			needs = append(needs, on("s3:ListMultipartUploadParts"))
		case q.Has("retention"):
			needs = append(needs, on("s3:GetObjectRetention"))
		case q.Has("legal-hold"):
			needs = append(needs, on("s3:GetObjectLegalHold"))
		case q.Has("versionId"):
			needs = append(needs, on("s3:GetObjectVersion"))
		default:
			needs = append(needs, on("s3:GetObject"))
		}
	case http.MethodPut, http.MethodPost:
		switch {
		case q.Has("retention"):
			needs = append(needs, on("s3:PutObjectRetention"))
		case q.Has("legal-hold"):
			needs = append(needs, on("s3:PutObjectLegalHold"))
		default: // PutObject, UploadPart(Copy), Create/CompleteMultipartUpload
			needs = append(needs, on("s3:PutObject"))
			if src := r.Header.Get("X-Amz-Copy-Source"); src != "" {
				needs = append(needs, copySourceRequest(src))
			}
			if r.Header.Get("X-Amz-Object-Lock-Mode") != "" || r.Header.Get("X-Amz-Object-Lock-Retain-Until-Date") != "" {
				needs = append(needs, on("s3:PutObjectRetention"))
			}
			if r.Header.Get("X-Amz-Object-Lock-Legal-Hold") != "" {
				needs = append(needs, on("s3:PutObjectLegalHold"))
			}
		}
	case http.MethodDelete:
		switch {
		case q.Has("uploadId"):
			needs = append(needs, on("s3:AbortMultipartUpload"))
		case q.Has("versionId"):
			needs = append(needs, on("s3:DeleteObjectVersion"))
		default:
			needs = append(needs, on("s3:DeleteObject"))
		}
	default:
		needs = append(needs, on("unknown:"+r.Method))
	}
	if strings.EqualFold(r.Header.Get("X-Amz-Bypass-Governance-Retention"), "true") {
		needs = append(needs, on("s3:BypassGovernanceRetention"))
	}
	return needs
}

// bucketRequests is iamRequests for a request on the bucket itself.
func bucketRequests(r *http.Request, q url.Values, body []byte, bucketARN string, onBucket, listing func(string) iamRequest) []iamRequest {
	subresource := func(actions map[string]string, fallback string) []iamRequest {
		for sub, action := range actions {
			if q.Has(sub) {
				return []iamRequest{onBucket(action)}
			}
		}
		return []iamRequest{onBucket(fallback)}
	}
	switch r.Method {
	case http.MethodHead:
		return []iamRequest{onBucket("s3:ListBucket")}
	case http.MethodGet:
		switch {
		case q.Has("versions"):
			return []iamRequest{listing("s3:ListBucketVersions")}
		case q.Has("uploads"):
			return []iamRequest{onBucket("s3:ListBucketMultipartUploads")}
		case len(q) == 0 || q.Has("list-type") || q.Has("prefix"):
			return []iamRequest{listing("s3:ListBucket")}
		}
		return subresource(map[string]string{"versioning": "s3:GetBucketVersioning", "object-lock": "s3:GetBucketObjectLockConfiguration",
			"lifecycle": "s3:GetLifecycleConfiguration", "location": "s3:GetBucketLocation", "policy": "s3:GetBucketPolicy"}, "unknown:GET "+r.URL.RawQuery)
	case http.MethodPut:
		if len(q) == 0 {
			needs := []iamRequest{onBucket("s3:CreateBucket")}
			if strings.EqualFold(r.Header.Get("X-Amz-Bucket-Object-Lock-Enabled"), "true") {
				needs = append(needs, onBucket("s3:PutBucketObjectLockConfiguration"), onBucket("s3:PutBucketVersioning"))
			}
			return needs
		}
		return subresource(map[string]string{"versioning": "s3:PutBucketVersioning", "object-lock": "s3:PutBucketObjectLockConfiguration",
			"lifecycle": "s3:PutLifecycleConfiguration", "policy": "s3:PutBucketPolicy"}, "unknown:PUT "+r.URL.RawQuery)
	case http.MethodDelete:
		return subresource(map[string]string{"policy": "s3:DeleteBucketPolicy", "lifecycle": "s3:PutLifecycleConfiguration"}, "s3:DeleteBucket")
	case http.MethodPost:
		if q.Has("delete") {
			return deleteObjectsRequests(body, bucketARN)
		}
	}
	return []iamRequest{onBucket("unknown:" + r.Method + " " + r.URL.RawQuery)}
}

// deleteObjectsRequests is what a DeleteObjects needs: s3:DeleteObject, or
// s3:DeleteObjectVersion for a key given with a version ID, for each key.
func deleteObjectsRequests(body []byte, bucketARN string) []iamRequest {
	var doc struct {
		Objects []struct {
			Key       string
			VersionID string `xml:"VersionId"`
		} `xml:"Object"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		return []iamRequest{{action: "unknown:DeleteObjects body", resource: bucketARN}}
	}
	var needs []iamRequest
	for _, obj := range doc.Objects {
		action := "s3:DeleteObject"
		if obj.VersionID != "" {
			action = "s3:DeleteObjectVersion"
		}
		needs = append(needs, iamRequest{action: action, resource: bucketARN + "/" + obj.Key})
	}
	return needs
}

// copySourceRequest is what reading a copy's source needs.
func copySourceRequest(header string) iamRequest {
	src, version, _ := strings.Cut(header, "?versionId=")
	if unescaped, err := url.PathUnescape(src); err == nil {
		src = unescaped
	}
	action := "s3:GetObject"
	if version != "" {
		action = "s3:GetObjectVersion"
	}
	return iamRequest{action: action, resource: "arn:aws:s3:::" + strings.TrimPrefix(src, "/")}
}

// iamProxy is a reverse proxy in front of an S3 endpoint that refuses what
// its policy does not allow.
type iamProxy struct {
	URL string
	t   testing.TB

	mu      gosync.Mutex
	policy  policyDocument
	asked   map[string]bool // actions requests needed
	refused []iamRequest
}

// startIAMProxy starts an iamProxy in front of endpoint for the test.
func startIAMProxy(t testing.TB, endpoint string) *iamProxy {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := &iamProxy{t: t, asked: make(map[string]bool)}
	forward := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host // the client signed the Host it connected to
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if r.Method == http.MethodPost && r.URL.Query().Has("delete") {
			body, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		if !p.judge(iamRequests(r, body)) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			if r.Method != http.MethodHead {
				io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
			}
			return
		}
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// judge records what a request needs and reports whether all of it is allowed.
func (p *iamProxy) judge(needs []iamRequest) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	ok := true
	for _, r := range needs {
		p.asked[r.action] = true
		if !p.policy.allows(p.t, r) {
			p.refused = append(p.refused, r)
			ok = false
		}
	}
	return ok
}

// use makes the proxy judge by doc from now on, and forgets what it saw.
func (p *iamProxy) use(doc policyDocument) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.policy = doc
	p.asked = make(map[string]bool)
	p.refused = nil
}

// seen returns the actions asked for and the requests refused since use.
func (p *iamProxy) seen() (asked map[string]bool, refused []iamRequest) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.asked, slices.Clone(p.refused)
}
