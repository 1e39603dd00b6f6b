package sync

// ListEach is listEach, for the tests of package sync_test that run it on
// a memstore.
var ListEach = listEach
