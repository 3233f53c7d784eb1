//! p8fs's conformance suites, run against every backend the way OpenDAL's behavior tests
//! are: one binary (`tests/conformance.rs`), one backend per process, chosen by
//! environment variables (see `docs/testing.md`).
//!
//! * `P8FS_TEST_BACKEND`: `embedded` (default; SQLite and the embedded KV store),
//!   `postgres`, `mariadb`, `http` (the proxy on loopback), `tikv` (the in-process PD/TiKV
//!   stand-in, or a real cluster), `tidb` (the tidb-server `cargo xtask services up` builds
//!   and starts, or a TiDB you point `P8FS_TIDB_URL` at).
//! * URLs: `P8FS_TEST_PG_URL`, `P8FS_TEST_MARIADB_URL`, `P8FS_TIDB_URL`, read from the
//!   environment or from the file `cargo xtask services up` writes (`P8FS_SERVICES_FILE`,
//!   default `target/p8fs-services/services.env`).
//! * `P8FS_TIKV_PD_ENDPOINTS`: the `tikv` backend tests this cluster instead of the
//!   stand-in; `P8FS_TIKV_KEYSPACE` names its keyspace (required on a TiKV with
//!   `storage.api-version = 2`).
//! * `P8FS_TEST_REQUIRED=1` (set by `cargo xtask test`): a backend that is not configured
//!   or cannot be reached fails every test instead of skipping it.
//! * `P8FS_TEST_SOAK_SECS=N`: repeat each test body for N seconds (the outage drill).
//! * `P8FS_TEST_RESTART_DRILL=DIR`: the runner is the restart drill's writer
//!   ([`restart_drill`]) instead of running the suites.
//! * `P8FS_TEST_SOAK_RUN=SECS`: the runner is the soak ([`soak`]) for that many seconds.
//!
//! Suites are gated on what a backend can do, never on its name.

pub mod backend;
pub mod certs;
pub mod harness;
pub mod kv;
pub(crate) mod props;
pub mod proxy;
pub mod proxy_hardening;
pub mod proxy_suite;
pub mod restart_drill;
pub mod soak;
pub mod sql;

pub use backend::{Backend, TestEnv};

/// An error and its sources, `: `-separated, as a log shows them (tests look in it for
/// what a refusal says).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        out.push_str(": ");
        out.push_str(&s.to_string());
        next = s.source();
    }
    out
}
