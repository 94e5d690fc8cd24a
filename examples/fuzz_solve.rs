//! The long run of the `solve` fuzzing harness (see `docs/fuzzing.md`):
//!
//! ```text
//! cargo run --release --example fuzz_solve -- --cases 1000000 --seed 0 [--first K]
//!     [--time-bound-secs 10] [--large-every 1000] [--max-outcomes 1000000] [--progress]
//!     [--print]
//! ```
//!
//! Prints a summary (cases per second, answers by kind, the slowest case) and every finding,
//! and exits with status 1 if an invariant broke outside the documented open items
//! (`rlhf_claims::fuzz::KNOWN_OPEN`). `--print` writes the cases' input bytes to stdout, one
//! per line, instead of running them (to replay one with `rlhf-claims solve`).

use rlhf_claims::fuzz::{case, run, Config, Sizes};
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

fn flag(args: &[String], name: &str, default: u64) -> Result<u64, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{name} needs a non-negative integer")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let parsed = (|| -> Result<Config, String> {
        Ok(Config {
            seed: flag(&args, "--seed", 0)?,
            first: flag(&args, "--first", 0)?,
            cases: flag(&args, "--cases", 10_000)?,
            sizes: Sizes {
                large_every: u32::try_from(flag(&args, "--large-every", 1000)?)
                    .map_err(|e| e.to_string())?,
                max_outcomes: usize::try_from(flag(&args, "--max-outcomes", 1_000_000)?)
                    .map_err(|e| e.to_string())?,
            },
            time_bound: Duration::from_secs(flag(&args, "--time-bound-secs", 10)?),
        })
    })();
    let config = match parsed {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if args.iter().any(|a| a == "--print") {
        let mut out = std::io::stdout().lock();
        for index in config.first..config.first + config.cases {
            let c = case(config.seed, index, config.sizes);
            if out.write_all(&c.text).and(out.write_all(b"\n")).is_err() {
                return ExitCode::FAILURE;
            }
        }
        return ExitCode::SUCCESS;
    }
    // `--progress`: one case at a time, each index on stderr before it runs, so that a case
    // that hangs is named by the last line.
    let report = if args.iter().any(|a| a == "--progress") {
        let mut total = rlhf_claims::fuzz::Report::default();
        for index in config.first..config.first + config.cases {
            eprintln!("case {index}");
            let one = run(Config {
                first: index,
                cases: 1,
                ..config
            });
            total.cases += one.cases;
            total.solved += one.solved;
            total.elapsed += one.elapsed;
            for (k, v) in one.refused {
                *total.refused.entry(k).or_default() += v;
            }
            for (k, v) in one.malformed {
                *total.malformed.entry(k).or_default() += v;
            }
            if one.slowest.1 > total.slowest.1 {
                total.slowest = one.slowest;
            }
            total.failures.extend(one.failures);
        }
        total
    } else {
        run(config)
    };
    let secs = report.elapsed.as_secs_f64();
    println!(
        "seed {} cases {}..{}: {:.1} s, {:.0} cases/s",
        config.seed,
        config.first,
        config.first + report.cases,
        secs,
        report.cases as f64 / secs
    );
    println!("solved {}", report.solved);
    println!("refused (well-formed) {:?}", report.refused);
    println!(
        "malformed, all refused unless listed below {:?}",
        report.malformed
    );
    println!(
        "slowest case {} in {:?}",
        report.slowest.0, report.slowest.1
    );
    let new = report.new_failures().count();
    println!(
        "findings {} ({} new, {} known open)",
        report.failures.len(),
        new,
        report.failures.len() - new
    );
    for f in &report.failures {
        let tag = if f.is_known_open() { "open" } else { "NEW" };
        println!(
            "{tag} case {} ({}): {}: {}\n  input: {}",
            f.index, f.solver, f.finding.check, f.finding.detail, f.input
        );
    }
    if new == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
