//! The README's claim table is the registry's: `rlhf-claims list --format md` between the
//! `claims-table` markers. Regenerate with `scripts/update_readme_claims.sh`.

use rlhf_claims::claims;
use rlhf_claims::report::{self, Format};

#[test]
fn readme_claim_table_matches_the_registry() {
    let readme = include_str!("../README.md");
    let start = "<!-- claims-table:start -->\n";
    let end = "<!-- claims-table:end -->";
    let a = readme.find(start).map(|i| i + start.len());
    let b = readme.find(end);
    let (Some(a), Some(b)) = (a, b) else {
        panic!("README lacks the claims-table markers");
    };
    let expected = report::list(&claims::all(), Format::Markdown);
    assert_eq!(
        &readme[a..b],
        expected,
        "README claim table is stale: run scripts/update_readme_claims.sh"
    );
}

/// A command the README shows with its output: a ```sh block holding one `$ ` line, followed by
/// the output block. The info string `text timing` would mark an output that depends on timing
/// (compared only in its first line); none does at present.
struct Shown {
    command: String,
    output: String,
    timing: bool,
}

fn shown_commands(readme: &str) -> Vec<Shown> {
    let blocks: Vec<(&str, &str)> = readme
        .split("```")
        .skip(1)
        .step_by(2)
        .map(|b| b.split_once('\n').unwrap_or((b, "")))
        .collect();
    let mut out = Vec::new();
    for pair in blocks.windows(2) {
        let ((lang, body), (out_lang, out_body)) = (pair[0], pair[1]);
        let lines: Vec<&str> = body.lines().collect();
        if lang.trim() == "sh" && lines.len() == 1 && lines[0].starts_with("$ ") {
            out.push(Shown {
                command: lines[0][2..].to_string(),
                output: out_body.to_string(),
                timing: out_lang.contains("timing"),
            });
        }
    }
    out
}

/// Words of a shell command line, with single-quoted strings kept whole.
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for ch in s.chars() {
        match ch {
            '\'' => quoted = !quoted,
            ' ' if !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(ch),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Runs `echo 'JSON' | cargo run -q --release -- ARGS` or `cargo run -q --release -- ARGS` (or
/// `rlhf-claims ARGS`) with this build's binary.
fn run_shown(command: &str) -> Result<String, String> {
    use std::io::Write;
    let (stdin, cmd) = match command.split_once(" | ") {
        Some((echo, rest)) => {
            let w = words(echo);
            if w.first().map(String::as_str) != Some("echo") {
                return Err(format!("unsupported pipe: {command}"));
            }
            (Some(format!("{}\n", w[1..].join(" "))), rest)
        }
        None => (None, command),
    };
    let w = words(cmd);
    let args = if w.starts_with(&["cargo".into(), "run".into()]) {
        let k = w
            .iter()
            .position(|a| a == "--")
            .ok_or("no `--` in cargo run")?;
        w[k + 1..].to_vec()
    } else if w.first().map(String::as_str) == Some("rlhf-claims") {
        w[1..].to_vec()
    } else {
        return Err(format!("unsupported command: {command}"));
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rlhf-claims"))
        .args(&args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes())
            .map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    String::from_utf8(out.stdout).map_err(|e| e.to_string())
}

#[test]
fn readme_shown_outputs_are_what_the_binary_prints() -> Result<(), String> {
    let shown = shown_commands(include_str!("../README.md"));
    assert!(
        shown.len() >= 2,
        "the README's shown commands were not found"
    );
    for s in &shown {
        let got = run_shown(&s.command)?;
        if s.timing {
            assert_eq!(got.lines().next(), s.output.lines().next(), "{}", s.command);
        } else {
            assert_eq!(got, s.output, "README output of `{}` is stale", s.command);
        }
    }
    Ok(())
}

#[test]
fn the_shown_output_comparison_can_fail() -> Result<(), String> {
    // Negative control: a stale copy of the worked example (the pre-fix digits) is caught.
    let stale =
        "```sh\n$ echo '{\"solver\":\"tilt\",\"base\":[0.5,0.5],\"reward\":[0,1],\"beta\":1}' \
                 | cargo run -q --release -- solve\n```\n\n```json\n{\"kl\":0.1}\n```\n";
    let shown = shown_commands(stale);
    assert_eq!(shown.len(), 1);
    assert_ne!(run_shown(&shown[0].command)?, shown[0].output);
    Ok(())
}
