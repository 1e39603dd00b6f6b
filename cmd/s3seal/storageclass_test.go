package main

import (
	"strings"
	"testing"
)

func TestCheckStorageClass(t *testing.T) {
	for _, class := range []string{"", "STANDARD", "REDUCED_REDUNDANCY", "GLACIER_IR", "EXPRESS_ONEZONE", "DEEP_ARCHIVE"} {
		if warning, err := checkStorageClass(class); warning != "" || err != nil {
			t.Errorf("checkStorageClass(%q) = %q, %v; want no warning and no error", class, warning, err)
		}
	}
	// A class of the server's own is sent as given, with a warning.
	if warning, err := checkStorageClass("COLDLINE"); err != nil || !strings.Contains(warning, `"COLDLINE" is not one S3 defines`) {
		t.Errorf("checkStorageClass(COLDLINE) = %q, %v; want a warning", warning, err)
	}
	// One of S3's in the wrong case would be refused by every server.
	if _, err := checkStorageClass("glacier_ir"); err == nil || !strings.Contains(strings.Join(hintsFor(err), " "), "GLACIER_IR") {
		t.Errorf("checkStorageClass(glacier_ir) = %v; want a usage error hinting GLACIER_IR", err)
	}
}
