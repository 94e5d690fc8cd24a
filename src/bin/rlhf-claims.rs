//! `rlhf-claims`: list and check the claims, solve problems given as JSON, print tables.
//!
//! With no arguments it checks every registered claim (the main job) and exits non-zero if any
//! claim fails.

use clap::{Parser, Subcommand, ValueEnum};
use rlhf_claims::claims::{self, CheckConfig};
use rlhf_claims::report::cite::{self, CiteFormat};
use rlhf_claims::report::document::{self, DocFormat};
use rlhf_claims::report::{self, Format};
use rlhf_claims::{api, tables, Error};
use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "rlhf-claims",
    version,
    about = "Claims about RLHF, stated precisely, solved exactly, and checked"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ListFormat {
    Md,
    Json,
    Text,
}

#[derive(Clone, Copy, ValueEnum)]
enum CheckFormat {
    Text,
    Md,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum TableFormat {
    Md,
    Csv,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// List the registered claims: id, title, status, sources.
    List {
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
    /// Run the claims' properties (all claims if no id is given); exit 0 iff all pass.
    Check {
        /// Claim ids (`kl.tilt`) or family prefixes (`kl`).
        ids: Vec<String>,
        /// Cases per property (default: PROPTEST_CASES or 256).
        #[arg(long)]
        cases: Option<u32>,
        /// Seed of the instance generator.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, value_enum, default_value = "text")]
        format: CheckFormat,
        /// Also run the sampled witnesses (sampled optimizers tested against the exact answer,
        /// each with its false-alarm rate and negative control).
        #[arg(long)]
        witnesses: bool,
    },
    /// Read one JSON problem on stdin, write one JSON solution on stdout (`--schema` lists the
    /// problem types and their fields).
    Solve {
        /// Print every problem type with its fields and output, and exit.
        #[arg(long)]
        schema: bool,
    },
    /// Print a numeric table (`table --list` names them).
    Table {
        /// The table's name.
        name: Option<String>,
        #[arg(long, value_enum, default_value = "md")]
        format: TableFormat,
        /// List the available tables.
        #[arg(long)]
        list: bool,
    },
    /// Check the claims (all if no id is given) and write one self-contained document: header,
    /// summary, figures, every claim with statement, sources, verdict, control, counterexample
    /// and proof link, and the references. The same seed, budget and version give the same
    /// bytes unless --timestamp is given. Exit 0 iff all claims pass.
    Report {
        /// Claim ids (`kl.tilt`) or family prefixes (`kl`).
        ids: Vec<String>,
        #[arg(long, value_enum, default_value = "md")]
        format: ReportFormat,
        /// Cases per property (default: PROPTEST_CASES or 256).
        #[arg(long)]
        cases: Option<u32>,
        /// Seed of the instance generator.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Also run the sampled witnesses.
        #[arg(long)]
        witnesses: bool,
        /// Record the date (UTC) and each check's wall time (the output is then not
        /// reproducible byte for byte).
        #[arg(long)]
        timestamp: bool,
        /// Leave the figures out (they take a few seconds to compute).
        #[arg(long)]
        no_figures: bool,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Draw a figure as SVG (`plot --list` names them).
    Plot {
        /// The figure's name.
        name: Option<String>,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// List the available figures.
        #[arg(long)]
        list: bool,
    },
    /// Cite one claim's verdict: crate, version, claim, status, seed, what the check found, the
    /// proof's URL, and the sources (BibTeX, Markdown or text); exit 0 iff the claim passes.
    Cite {
        /// The claim id (`kl.tilt`).
        id: String,
        #[arg(long, value_enum, default_value = "bibtex")]
        format: CiteFormatArg,
        /// Cases per property (default: PROPTEST_CASES or 256).
        #[arg(long)]
        cases: Option<u32>,
        /// Seed of the instance generator.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Md,
    Html,
    Tex,
}

#[derive(Clone, Copy, ValueEnum)]
enum CiteFormatArg {
    Bibtex,
    Md,
    Text,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Check {
        ids: Vec::new(),
        cases: None,
        seed: 0,
        format: CheckFormat::Text,
        witnesses: false,
    }) {
        Command::List { format } => {
            let f = match format {
                ListFormat::Md => Format::Markdown,
                ListFormat::Json => Format::Json,
                ListFormat::Text => Format::Text,
            };
            print!("{}", report::list(&claims::all(), f));
            ExitCode::SUCCESS
        }
        Command::Check {
            ids,
            cases,
            seed,
            format,
            witnesses,
        } => run_check(&ids, cases, seed, format, witnesses),
        Command::Solve { schema: true } => {
            print!("{}", api::schema_markdown());
            ExitCode::SUCCESS
        }
        Command::Solve { schema: false } => run_solve(),
        Command::Table { name, format, list } => run_table(name, format, list),
        Command::Cite {
            id,
            format,
            cases,
            seed,
        } => run_cite(&id, format, cases, seed),
        Command::Plot { name, out, list } => run_plot(name.as_deref(), out.as_deref(), list),
        Command::Report {
            ids,
            format,
            cases,
            seed,
            witnesses,
            timestamp,
            no_figures,
            out,
        } => run_report(
            &ids,
            ReportArgs {
                format,
                cases,
                seed,
                witnesses,
                timestamp,
                figures: !no_figures,
            },
            out.as_deref(),
        ),
    }
}

struct ReportArgs {
    format: ReportFormat,
    cases: Option<u32>,
    seed: u64,
    witnesses: bool,
    timestamp: bool,
    figures: bool,
}

/// The command line with the program's path reduced to its name (so that the report does not
/// depend on where the binary is installed).
fn command_line() -> String {
    let mut args = std::env::args();
    let prog = args
        .next()
        .and_then(|p| {
            std::path::Path::new(&p)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "rlhf-claims".into());
    std::iter::once(prog)
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Today's UTC date and time, `YYYY-MM-DD HH:MM:SS UTC` (civil-from-days, proleptic Gregorian).
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let tod = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        tod / 3600,
        tod / 60 % 60,
        tod % 60
    )
}

fn run_report(ids: &[String], a: ReportArgs, out: Option<&std::path::Path>) -> ExitCode {
    let (chosen, config) = match claims::select(ids)
        .map_err(|e| e.to_string())
        .and_then(|c| Ok((c, check_config(a.cases, a.seed)?)))
    {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let results = run_claims(chosen, &config, a.witnesses);
    let meta = document::Meta {
        command_line: command_line(),
        seed: config.seed,
        cases: config.cases,
        witnesses: a.witnesses,
        timestamp: a.timestamp.then(utc_now),
    };
    let f = match a.format {
        ReportFormat::Md => DocFormat::Markdown,
        ReportFormat::Html => DocFormat::Html,
        ReportFormat::Tex => DocFormat::Tex,
    };
    let figs = if a.figures { figures() } else { Ok(Vec::new()) };
    let written = figs.and_then(|figs| emit(&document::document(&results, &meta, &figs, f), out));
    if let Err(e) = written {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    if results.iter().all(|(_, v)| v.passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Writes `text` to `out`, or to stdout.
fn emit(text: &str, out: Option<&std::path::Path>) -> Result<(), String> {
    match out {
        Some(path) => std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display())),
        None => std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .map_err(|e| e.to_string()),
    }
}

/// The figures the report embeds (none when built without the `plots` feature).
#[cfg(feature = "plots")]
fn figures() -> Result<Vec<document::Figure>, String> {
    rlhf_claims::plot::all()
        .into_iter()
        .map(|p| {
            Ok(document::Figure {
                name: p.name.to_string(),
                caption: p.caption.to_string(),
                svg: rlhf_claims::plot::svg(p.name).map_err(|e| e.to_string())?,
            })
        })
        .collect()
}

#[cfg(not(feature = "plots"))]
fn figures() -> Result<Vec<document::Figure>, String> {
    Ok(Vec::new())
}

#[cfg(feature = "plots")]
fn run_plot(name: Option<&str>, out: Option<&std::path::Path>, list: bool) -> ExitCode {
    let Some(name) = name.filter(|_| !list) else {
        for p in rlhf_claims::plot::all() {
            println!("{:20} {}", p.name, p.caption);
        }
        return if list {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        };
    };
    match rlhf_claims::plot::svg(name)
        .map_err(|e| e.to_string())
        .and_then(|svg| emit(&svg, out))
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(not(feature = "plots"))]
fn run_plot(_: Option<&str>, _: Option<&std::path::Path>, _: bool) -> ExitCode {
    eprintln!("error: built without the `plots` feature");
    ExitCode::from(2)
}

/// Runs each claim (and its witnesses when asked), with progress on a terminal.
fn run_claims(
    chosen: Vec<claims::Claim>,
    config: &CheckConfig,
    witnesses: bool,
) -> Vec<(claims::Claim, claims::Verdict)> {
    let progress =
        std::io::stderr().is_terminal() || std::env::var_os("RLHF_CLAIMS_PROGRESS").is_some();
    let total = chosen.len();
    let mut results = Vec::new();
    for (k, claim) in chosen.into_iter().enumerate() {
        if progress {
            eprint!("[{}/{}] {} ... ", k + 1, total, claim.id);
        }
        let v = if witnesses {
            claim.run_with_witnesses(config)
        } else {
            claim.run(config)
        };
        if progress {
            eprintln!(
                "{} ({:.2}s)",
                if v.passed { "ok" } else { "FAIL" },
                v.seconds
            );
        }
        results.push((claim, v));
    }
    results
}

/// The check configuration from `--cases` and `--seed`, or the usage error.
fn check_config(cases: Option<u32>, seed: u64) -> Result<CheckConfig, String> {
    let mut config = CheckConfig::default();
    if let Some(n) = cases {
        config.cases = n;
    }
    if config.cases == 0 || config.cases > MAX_CASES {
        return Err(format!(
            "--cases must be between 1 and {MAX_CASES} (a check of zero cases is no evidence)"
        ));
    }
    config.seed = seed;
    Ok(config)
}

fn run_cite(id: &str, format: CiteFormatArg, cases: Option<u32>, seed: u64) -> ExitCode {
    let claim = claims::all().into_iter().find(|c| c.id == id);
    let (Some(claim), Ok(config)) = (claim, check_config(cases, seed)) else {
        match check_config(cases, seed) {
            Err(e) => eprintln!("error: {e}"),
            Ok(_) => eprintln!("error: unknown claim id: {id} (`list` names them)"),
        }
        return ExitCode::from(2);
    };
    let v = claim.run(&config);
    let f = match format {
        CiteFormatArg::Bibtex => CiteFormat::Bibtex,
        CiteFormatArg::Md => CiteFormat::Markdown,
        CiteFormatArg::Text => CiteFormat::Text,
    };
    print!("{}", cite::cite(&claim, &v, config.seed, f));
    if v.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Largest accepted `--cases`: at the slowest claims' pace (about 1 ms a case) this is a run of
/// a few hours; beyond it a typo is likelier than intent.
const MAX_CASES: u32 = 10_000_000;

fn run_check(
    ids: &[String],
    cases: Option<u32>,
    seed: u64,
    format: CheckFormat,
    witnesses: bool,
) -> ExitCode {
    let chosen = match claims::select(ids) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let config = match check_config(cases, seed) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let results = run_claims(chosen, &config, witnesses);
    let f = match format {
        CheckFormat::Text => Format::Text,
        CheckFormat::Md => Format::Markdown,
        CheckFormat::Json => Format::Json,
    };
    print!("{}", report::check(&results, f));
    if results.iter().all(|(_, v)| v.passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn emit_error(e: &Error) -> ExitCode {
    println!("{}", api::error_json(e));
    eprintln!("error: {e}");
    ExitCode::from(2)
}

fn run_solve() -> ExitCode {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        return emit_error(&Error::InvalidInput(format!("cannot read stdin: {e}")));
    }
    match api::solve_str(&input) {
        Ok(v) => {
            let mut out = std::io::stdout().lock();
            match writeln!(out, "{v}") {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::FAILURE,
            }
        }
        Err(e) => emit_error(&e),
    }
}

fn run_table(name: Option<String>, format: TableFormat, list: bool) -> ExitCode {
    if list || name.is_none() {
        for t in tables::all() {
            println!("{:24} {}", t.name, t.description);
        }
        return if list {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        };
    }
    let name = name.unwrap_or_default();
    match tables::build(&name) {
        Ok(t) => {
            match format {
                TableFormat::Md => print!("{}", t.to_markdown()),
                TableFormat::Csv => print!("{}", t.to_csv()),
                TableFormat::Json => println!("{}", t.to_json()),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
