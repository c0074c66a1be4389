//! A time- or case-bounded fuzz driver over proptest strategies, for the fuzz targets in the
//! crates' tests (`fuzz_…`).
//!
//! `cargo xtask test` runs each target for [`DEFAULT_CASES`] inputs; `cargo xtask fuzz SECONDS`
//! sets `TESSERA_FUZZ_SECONDS` and each target runs that long. Inputs come from proptest
//! strategies (structured near-valid inputs, mutations of real files, byte soup); a failing input
//! is printed before the panic is passed on, and the slowest input's time per byte is reported,
//! since parsers must take time linear in their input.

use std::fmt::Debug;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::time::{Duration, Instant};

pub use proptest;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// Inputs per target in an ordinary test run.
pub const DEFAULT_CASES: u64 = 200;

/// How long or how many inputs a target runs.
#[derive(Debug, Clone, Copy)]
pub enum Budget {
    /// This many inputs.
    Cases(u64),
    /// Until this much time has passed.
    Time(Duration),
}

impl Budget {
    /// `TESSERA_FUZZ_SECONDS` if set, else [`DEFAULT_CASES`].
    pub fn from_env() -> Self {
        match std::env::var("TESSERA_FUZZ_SECONDS")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
        {
            Some(seconds) => Budget::Time(Duration::from_secs(seconds)),
            None => Budget::Cases(DEFAULT_CASES),
        }
    }

    fn more(&self, started: Instant, done: u64) -> bool {
        match *self {
            Budget::Cases(n) => done < n,
            Budget::Time(t) => started.elapsed() < t,
        }
    }
}

/// What a run did: inputs tried and the slowest time per input byte.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    /// Inputs tried.
    pub cases: u64,
    /// The largest time an input took per byte of its size (µs/byte, sizes under 64 bytes
    /// counted as 64).
    pub slowest_micros_per_byte: f64,
}

/// Feeds `check` inputs from `strategy` until the budget is spent. `size` says how many bytes
/// an input has. A panic in `check` prints the input, then fails the test.
pub fn run<S>(
    name: &str,
    strategy: S,
    size: impl Fn(&S::Value) -> usize,
    mut check: impl FnMut(&S::Value),
) -> Report
where
    S: Strategy,
    S::Value: Debug,
{
    let budget = Budget::from_env();
    // A seed per run (the time), printed so that a failure can be replayed.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let started = Instant::now();
    let mut report = Report {
        cases: 0,
        slowest_micros_per_byte: 0.0,
    };
    while budget.more(started, report.cases) {
        let Ok(tree) = strategy.new_tree(&mut runner) else {
            continue;
        };
        let input = tree.current();
        let began = Instant::now();
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(&input))) {
            eprintln!("fuzz {name}: seed {seed}, failing input:\n{input:?}");
            resume_unwind(panic);
        }
        let per_byte = began.elapsed().as_secs_f64() * 1e6 / size(&input).max(64) as f64;
        report.slowest_micros_per_byte = report.slowest_micros_per_byte.max(per_byte);
        report.cases += 1;
    }
    eprintln!(
        "fuzz {name}: {} inputs in {:.1} s, slowest {:.2} µs/byte (seed {seed})",
        report.cases,
        started.elapsed().as_secs_f64(),
        report.slowest_micros_per_byte
    );
    report
}

/// Byte-level mutations of `seeds` (real files): flips, deletions, duplications and splices of
/// random spans, and truncations — near-valid inputs that reach deep into a parser.
pub fn mutations(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    let edits = prop::collection::vec(
        (
            0u8..5,
            any::<prop::sample::Index>(),
            any::<prop::sample::Index>(),
            any::<u8>(),
        ),
        1..8,
    );
    (prop::sample::select(seeds), edits).prop_map(|(mut bytes, edits)| {
        for (kind, a, b, byte) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = a.index(bytes.len());
            let j = b.index(bytes.len());
            let (lo, hi) = (i.min(j), i.max(j));
            match kind {
                0 => bytes[i] = byte,
                1 => {
                    bytes.drain(lo..hi.min(lo + 64));
                }
                2 => {
                    let span: Vec<u8> = bytes[lo..hi.min(lo + 256)].to_vec();
                    bytes.splice(hi..hi, span);
                }
                3 => bytes.truncate(i),
                _ => bytes.insert(i, byte),
            }
        }
        bytes
    })
}
