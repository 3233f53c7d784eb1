//! The conformance runner: one backend per process (`P8FS_TEST_BACKEND`), every suite
//! that applies to it. See the crate docs and `docs/testing.md`.

use std::process::ExitCode;
use std::sync::Arc;

use libtest_mimic::Arguments;
use p8fs_tests::{TestEnv, harness, kv, proxy_suite, sql};

fn main() -> ExitCode {
    // The crash test re-runs this binary as its writer process.
    if let Ok(path) = std::env::var(kv::crash::CHILD_ENV) {
        if let Err(e) = kv::crash::child_main(&path) {
            eprintln!("crash-test writer: {e:#}");
            return ExitCode::FAILURE;
        }
        return ExitCode::SUCCESS;
    }
    if let Ok(scratch) = std::env::var(sql::core_api::SQL_FAULT_CHILD_ENV) {
        if let Err(e) = sql::core_api::sql_fault_child_main(&scratch) {
            eprintln!("core SQL fault child: {e:#}");
        }
        return ExitCode::SUCCESS;
    }
    if let Ok(dir) = std::env::var(sql::core_api::FAULT_CHILD_ENV) {
        if let Err(e) = sql::core_api::fault_child_main(&dir) {
            eprintln!("core fault child: {e:#}");
        }
        return ExitCode::SUCCESS;
    }
    // The restart drill (`cargo xtask test`) runs this binary as its writer.
    if let Ok(dir) = std::env::var(p8fs_tests::restart_drill::RESTART_DRILL_ENV) {
        if let Err(e) = p8fs_tests::restart_drill::restart_drill_main(&dir) {
            eprintln!("restart drill: {e:#}");
            return ExitCode::FAILURE;
        }
        return ExitCode::SUCCESS;
    }
    // The soak (`cargo xtask soak`, and briefly `cargo xtask test`).
    if let Ok(secs) = std::env::var(p8fs_tests::soak::SOAK_ENV) {
        if let Err(e) = p8fs_tests::soak::soak_main(&secs) {
            eprintln!("soak: {e:#}");
            return ExitCode::FAILURE;
        }
        return ExitCode::SUCCESS;
    }
    let args = Arguments::from_args();
    let env = match TestEnv::load() {
        Ok(env) => Arc::new(env),
        Err(e) => {
            eprintln!("conformance: {e:#}");
            return ExitCode::from(2);
        }
    };
    let backend = env.backend.name();
    let mut cases = Vec::new();
    cases.extend(sql::cases());
    cases.extend(kv::cases());
    cases.extend(proxy_suite::cases());
    let trials = harness::trials(&env, &cases);
    if trials.is_empty() {
        eprintln!("{backend}: no conformance test applies to this backend");
        return ExitCode::FAILURE;
    }
    let c = libtest_mimic::run(&args, trials);
    let line = format!("{} passed, {} failed, {} ignored", c.num_passed, c.num_failed, c.num_ignored);
    println!("backend {backend}: {line}");
    if let Some(path) = std::env::var_os("P8FS_TEST_RESULT_FILE") {
        let failures = harness::FAILURES.lock().map(|f| f.join("\n")).unwrap_or_default();
        std::fs::write(path, format!("{line}\n{failures}\n")).ok();
    }
    if c.num_passed == 0 && c.num_failed == 0 && !args.list {
        // Nothing ran: never let that pass as green when the backend was required.
        if env.required {
            eprintln!("{backend}: no test ran");
            return ExitCode::FAILURE;
        }
    }
    c.exit_code()
}
