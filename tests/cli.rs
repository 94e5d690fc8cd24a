//! The command-line interface: `list`, `check`, `table`, and the exit-status contract.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rlhf-claims"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the binary: {e}"))
}

fn stdout_json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn list_json_names_every_registered_claim() {
    let out = run(&["list", "--format", "json"]);
    assert!(out.status.success());
    let v = stdout_json(&out);
    let ids: Vec<&str> = v["claims"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["id"].as_str()).collect())
        .unwrap_or_default();
    let registered: Vec<&str> = rlhf_claims::claims::all().iter().map(|c| c.id).collect();
    assert_eq!(ids, registered);
    for c in v["claims"].as_array().into_iter().flatten() {
        for key in ["title", "status", "sources"] {
            assert!(!c[key].is_null(), "claim {} lacks {key}", c["id"]);
        }
    }
}

#[test]
fn list_markdown_is_a_table() {
    let out = run(&["list", "--format", "md"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("| id | title | status | sources |"));
    assert!(text.contains("`kl.tilt`"));
}

#[test]
fn check_json_has_the_documented_shape_and_exit_status() {
    let out = run(&[
        "check", "kl.tilt", "--cases", "32", "--seed", "3", "--format", "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = stdout_json(&out);
    let rows = v["claims"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row["id"], "kl.tilt");
    assert_eq!(row["passed"], true);
    assert_eq!(row["cases"], 32);
    for key in ["status", "worst_error", "counterexample"] {
        assert!(row.get(key).is_some(), "missing {key}");
    }
    assert_eq!(row["control"]["rejected"], true, "{row}");
    assert!(
        row["control"]["description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{row}"
    );
}

#[test]
fn a_bound_reports_its_tightness() {
    let v = stdout_json(&run(&[
        "check",
        "bon.kl-bound",
        "--cases",
        "64",
        "--format",
        "json",
    ]));
    let t = v["claims"][0]["tightness"].as_f64().unwrap_or(f64::NAN);
    // The bound holds, so the ratio is at most 1 up to the check's tolerance; a search that
    // reaches the edge comes within a few percent of it.
    assert!((0.5..=1.0 + 1e-9).contains(&t), "tightness {t}");
}

#[test]
fn check_refuses_zero_cases_and_absurd_case_counts() {
    for cases in ["0", "1000000000"] {
        let out = run(&["check", "kl.tilt", "--cases", cases]);
        assert_eq!(out.status.code(), Some(2), "--cases {cases}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--cases"));
    }
}

#[test]
fn check_runs_a_claim_named_twice_once() {
    let v = stdout_json(&run(&[
        "check", "kl", "kl.tilt", "--cases", "8", "--format", "json",
    ]));
    let ids: Vec<&str> = v["claims"]
        .as_array()
        .map(|rows| rows.iter().filter_map(|r| r["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        ids.iter().filter(|id| **id == "kl.tilt").count(),
        1,
        "{ids:?}"
    );
}

#[test]
fn check_is_deterministic_for_a_seed() {
    let a = stdout_json(&run(&[
        "check", "kl.tilt", "--cases", "16", "--seed", "9", "--format", "json",
    ]));
    let b = stdout_json(&run(&[
        "check", "kl.tilt", "--cases", "16", "--seed", "9", "--format", "json",
    ]));
    assert_eq!(a["claims"][0]["worst_error"], b["claims"][0]["worst_error"]);
}

#[test]
fn check_rejects_an_unknown_id_with_status_2() {
    let out = run(&["check", "no.such-claim"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown claim"));
}

#[test]
fn table_formats_agree() {
    let md = run(&["table", "lagrange-map", "--format", "md"]);
    let csv = run(&["table", "lagrange-map", "--format", "csv"]);
    let json = run(&["table", "lagrange-map", "--format", "json"]);
    assert!(md.status.success() && csv.status.success() && json.status.success());
    let v = stdout_json(&json);
    let columns = v["columns"].as_array().map(Vec::len).unwrap_or(0);
    let rows = v["rows"].as_array().map(Vec::len).unwrap_or(0);
    assert!(columns > 0 && rows > 0);
    let csv_text = String::from_utf8_lossy(&csv.stdout);
    assert_eq!(csv_text.lines().count(), rows + 1);
    assert_eq!(
        csv_text.lines().next().map(|h| h.split(',').count()),
        Some(columns)
    );
    assert!(String::from_utf8_lossy(&md.stdout).contains("| beta |"));
}

#[test]
fn unknown_table_is_an_error() {
    let out = run(&["table", "no-such-table"]);
    assert_eq!(out.status.code(), Some(2));
}
