//! Turns suites into libtest-mimic trials for one backend: unique scratch names, a
//! deadline per test, soak repetition, and a closing line per backend.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use libtest_mimic::{Failed, Trial};

use crate::TestEnv;
use crate::backend::KvKind;

/// A boxed test future.
pub type TestFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// What a test receives.
#[derive(Clone)]
pub struct Ctx {
    /// The process's configuration.
    pub env: Arc<TestEnv>,
    /// A name no other test of any concurrent run uses (`[a-z0-9]`), for tables, keys,
    /// tenants and files.
    pub scratch: String,
    /// For KV cases: the KV backend under test.
    pub kv: Option<KvKind>,
    /// Things (servers) that must live as long as the test.
    pub guards: Guards,
}

/// Keeps values alive until the test ends (when the last clone of [`Ctx`] is dropped).
#[derive(Clone, Default)]
pub struct Guards(Arc<std::sync::Mutex<Vec<Box<dyn std::any::Any + Send>>>>);

impl Guards {
    /// Keeps `value` until the test ends.
    pub fn keep(&self, value: impl std::any::Any + Send) {
        if let Ok(mut g) = self.0.lock() {
            g.push(Box::new(value));
        }
    }
}

/// Which suite a case belongs to, which decides what it runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    /// Once, against the backend's SQL provider.
    Sql,
    /// Once, against a server SQL provider (PostgreSQL, MariaDB, TiDB): what only a server
    /// database does (the KV table in the entities' own database).
    SqlServer,
    /// Once per KV backend the test backend offers ([`TestEnv::kv_kinds`]).
    Kv,
    /// Only against the embedded KV store, where the test backend offers it (crash
    /// safety of a local file).
    EmbeddedKv,
    /// Once, on the `tidb` backend: what only TiDB has (partitioning, statistics, TiFlash,
    /// placement).
    Tidb,
    /// Once, on the `http` backend: the proxy's own behaviour (wire contract, errors,
    /// auth, limits, load).
    Proxy,
}

/// One test of a suite: its name and its body.
pub struct Case {
    /// The suite.
    pub suite: Suite,
    /// `module::behaviour`, e.g. `probe::json_round_trips_every_kind`.
    pub name: &'static str,
    /// The body.
    pub run: fn(Ctx) -> TestFuture,
}

/// Declares a [`Case`] from an `async fn(Ctx) -> anyhow::Result<()>`.
#[macro_export]
macro_rules! case {
    ($suite:expr, $f:path) => {
        $crate::harness::Case { suite: $suite, name: stringify!($f), run: |ctx| Box::pin($f(ctx)) }
    };
}

/// The shared runtime all trials block on.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot build the test runtime: {e}"))
    })
}

/// A scratch name unique across processes and tests.
pub fn scratch_name() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in format!("{}-{nanos}-{n}", std::process::id()).bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("t{:012x}", h & 0xffff_ffff_ffff)
}

/// Deadline of one test body: a backend that stops answering fails the test, never
/// hangs the run.
const TEST_DEADLINE: Duration = Duration::from_secs(120);

/// Builds the trials of `cases` for the configured backend.
pub fn trials(env: &Arc<TestEnv>, cases: &[Case]) -> Vec<Trial> {
    let backend = env.backend.name();
    let mut out = Vec::new();
    for case in cases {
        let kinds = match case.suite {
            Suite::Sql if env.backend.has_sql() => vec![None],
            Suite::Sql => vec![],
            Suite::SqlServer if env.backend.has_sql() && env.backend != crate::Backend::Embedded => vec![None],
            Suite::SqlServer => vec![],
            Suite::Tidb if env.backend == crate::Backend::Tidb => vec![None],
            Suite::Tidb => vec![],
            Suite::Proxy if matches!(env.backend, crate::Backend::Http | crate::Backend::Tikv) => vec![None],
            Suite::Proxy => vec![],
            Suite::Kv => env.kv_kinds().into_iter().map(Some).collect(),
            Suite::EmbeddedKv => env.kv_kinds().into_iter().filter(|k| *k == KvKind::Redb).map(Some).collect(),
        };
        for kv in kinds {
            let name = match kv {
                None if case.suite == Suite::Proxy => format!("{backend}::proxy::{}", case.name),
                None => format!("{backend}::sql::{}", case.name),
                Some(k) => format!("{backend}::kv::{}::{}", k.name(), case.name),
            };
            if let Some(why) = env.missing() {
                if env.required {
                    let msg = format!("{backend}: required backend is not configured: {why}");
                    out.push(Trial::test(name, move || Err(Failed::from(msg))));
                } else {
                    out.push(Trial::test(name, || Ok(())).with_ignored_flag(true));
                }
                continue;
            }
            let env = Arc::clone(env);
            let run = case.run;
            out.push(Trial::test(name.clone(), move || {
                run_case(env, kv, run).inspect_err(|e| {
                    let first = e.message().and_then(|m| m.lines().next()).unwrap_or("failed");
                    if let Ok(mut f) = FAILURES.lock() {
                        f.push(format!("{name}: {first}"));
                    }
                })
            }));
        }
    }
    out
}

/// Each failed trial's name and the first line of its message, for the run's summary
/// (the test runner writes them to `P8FS_TEST_RESULT_FILE`, where `cargo xtask test`
/// shows them in its stage table).
pub static FAILURES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn run_case(env: Arc<TestEnv>, kv: Option<KvKind>, run: fn(Ctx) -> TestFuture) -> Result<(), Failed> {
    let backend = env.backend.name();
    let soak = env.soak;
    let start = Instant::now();
    loop {
        let ctx = Ctx { env: Arc::clone(&env), scratch: scratch_name(), kv, guards: Guards::default() };
        let scratch = ctx.scratch.clone();
        let result = runtime().block_on(async { tokio::time::timeout(TEST_DEADLINE, run(ctx)).await });
        env.cleanup(&scratch);
        match result {
            Err(_) => return Err(format!("{backend}: test did not finish within {TEST_DEADLINE:?}").into()),
            Ok(Err(e)) => {
                // Every failure names the backend, once.
                let msg = format!("{e:#}");
                let prefix = format!("{backend}:");
                return Err(if msg.starts_with(&prefix) { msg } else { format!("{prefix} {msg}") }.into());
            }
            Ok(Ok(())) => {}
        }
        if start.elapsed() >= soak {
            return Ok(());
        }
    }
}
