//! Random operation sequences checked against a model, with proptest generating and
//! shrinking them. The stores under test are async and proptest's runner loop is not, so
//! proptest runs on a thread of its own (its value trees are not `Send`) and hands each
//! sequence to the test, which answers with the sequence's failure, if any: proptest's
//! shrink loop (simplify while it fails, complicate while it passes) then finds the
//! smallest failing sequence, which the error reports with the seed.
//!
//! `P8FS_TEST_PROPTEST_CASES` sets the number of sequences (each caller has a default).

use std::fmt::Debug;

use anyhow::{Result, anyhow};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// Most runs spent shrinking one failure.
const SHRINK_RUNS: usize = 500;

/// What the generator thread asks of the test: run this sequence, or the verdict.
enum Ask<O> {
    Run(Vec<O>),
    Done(Option<(Vec<O>, String)>),
}

/// The number of sequences: `P8FS_TEST_PROPTEST_CASES`, else `default`.
pub(crate) fn cases(default: usize) -> usize {
    std::env::var("P8FS_TEST_PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// Runs `cases` sequences from the strategy `make` builds (on the generator thread), each
/// through `run(sequence number, ops)`; a failing sequence is shrunk and reported as
/// `"{what}: {why}"` with the smallest sequence and the seed.
pub(crate) async fn check_sequences<O, S, F, Fut>(what: &str, cases: usize, make: fn() -> S, mut run: F) -> Result<()>
where
    O: Debug + Send + 'static,
    S: Strategy<Value = Vec<O>> + 'static,
    F: FnMut(usize, Vec<O>) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    // A seed per run, printed on failure.
    let mut seed = [0u8; 32];
    seed[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    let (ask_tx, mut asks) = tokio::sync::mpsc::channel(1);
    let (verdict_tx, verdicts) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || generator(make(), cases, seed, ask_tx, verdicts));
    let mut n = 0usize;
    let outcome = loop {
        match asks.recv().await {
            Some(Ask::Run(ops)) => {
                n += 1;
                let verdict = run(n, ops).await.err().map(|e| format!("{e:#}"));
                if verdict_tx.send(verdict).is_err() {
                    break Err(anyhow!("the generator thread ended early"));
                }
            }
            Some(Ask::Done(None)) => break Ok(()),
            Some(Ask::Done(Some((ops, why)))) => {
                break Err(anyhow!(
                    "{what}: {why}\nsmallest sequence ({} ops, {n} sequences run, seed {seed:02x?}): {ops:?}",
                    ops.len()
                ));
            }
            None => break Err(anyhow!("the generator thread ended early")),
        }
    };
    drop(verdict_tx);
    thread.join().map_err(|_| anyhow!("the generator thread panicked"))?;
    outcome
}

/// Generates and shrinks sequences: each goes to the test, which answers with its failure.
fn generator<O, S>(
    strategy: S,
    cases: usize,
    seed: [u8; 32],
    ask: tokio::sync::mpsc::Sender<Ask<O>>,
    verdicts: std::sync::mpsc::Receiver<Option<String>>,
) where
    S: Strategy<Value = Vec<O>>,
{
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    let try_one = |ops: Vec<O>| -> Option<Option<String>> {
        ask.blocking_send(Ask::Run(ops)).ok()?;
        verdicts.recv().ok()
    };
    for _ in 0..cases {
        let Ok(mut tree) = strategy.new_tree(&mut runner) else { break };
        let Some(verdict) = try_one(tree.current()) else { return };
        let Some(first) = verdict else { continue };
        // Shrink: simplify while it still fails, complicate when it passes.
        let (mut smallest, mut why) = (tree.current(), first);
        if tree.simplify() {
            for _ in 0..SHRINK_RUNS {
                let Some(verdict) = try_one(tree.current()) else { return };
                match verdict {
                    Some(e) => {
                        smallest = tree.current();
                        why = e;
                        if !tree.simplify() {
                            break;
                        }
                    }
                    None => {
                        if !tree.complicate() {
                            break;
                        }
                    }
                }
            }
        }
        let _ = ask.blocking_send(Ask::Done(Some((smallest, why))));
        return;
    }
    let _ = ask.blocking_send(Ask::Done(None));
}
