package sync

import "errors"

// ErrNotImplemented means the server does not implement the operation, such
// as versioning or lifecycle rules on a store that has neither.
var ErrNotImplemented = errors.New("not implemented by the store")
