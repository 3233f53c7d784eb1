// p8fs's own Go consumer module for a real tidb-server (issue 15). See README.md.
//
// STATUS: does not resolve on this project's machines. The Go module proxy
// refuses both public pins (ticdc's and tiflow's) for github.com/pingcap/tidb
// and for github.com/pingcap/tidb/pkg/parser with "403 Forbidden / This module
// version is not available" (exact text in README.md). There is therefore no
// go.sum yet, and nothing here has been built.
module p8fs.local/tidb-local

go 1.26

// pingcap/ticdc's pin (both modules at commit a514a92784c9, 2026-09-07).
// The nested parser module has no tags of its own, so Go names the same commit
// v0.0.0-<timestamp>-<commit> for it; ticdc's go.mod pins it exactly so.
require (
	github.com/pingcap/tidb v1.1.0-beta.0.20260907032637-a514a92784c9
	github.com/pingcap/tidb/pkg/parser v0.0.0-20260907032637-a514a92784c9
)

// `go build github.com/pingcap/tidb/cmd/tidb-server` from this module needs the
// package in the build list; the tool directive (Go >= 1.24) keeps it there
// through `go mod tidy`, with no Go file of ours.
tool github.com/pingcap/tidb/cmd/tidb-server

// TiDB's non-local replace lines. A replace is not inherited by a consumer, so
// they must be repeated here. They could NOT be read from the pinned version's
// go.mod (the proxy refused it); these are the ones of the newest TiDB go.mod
// that could be read (master, late 2025: go 1.25.5, client-go 20251215), and
// must be checked against the pin's own go.mod before the first build. Note:
// ticdc's go.mod at this pin repeats only the go-ldap line ("copy from TiDB")
// and requires arrow-go v18.6.1-0.20260713210906-efc145c067b6 without a
// replace, so TiDB may have dropped or moved its arrow-go fork by then.
replace (
	github.com/apache/arrow-go/v18 => github.com/joechenrh/arrow-go/v18 v18.0.0-20250911101656-62c34c9a3b82
	github.com/go-ldap/ldap/v3 => github.com/YangKeao/ldap/v3 v3.4.5-0.20230421065457-369a3bab1117
	sourcegraph.com/sourcegraph/appdash => github.com/sourcegraph/appdash v0.0.0-20190731080439-ebfcffb1b5c0
	sourcegraph.com/sourcegraph/appdash-data => github.com/sourcegraph/appdash-data v0.0.0-20151005221446-73f23eafcf67
)
