//! The committed figures in `docs/figures/` are the ones the code draws now: each is regenerated
//! and compared byte for byte (the SVG backend reads no system font, so the bytes do not depend
//! on the machine), and each is checked for what a reader needs: a title, every curve with its
//! legend entry, finite points. After a deliberate change, rewrite them with
//! `UPDATE_FIGURES=1 cargo test --test figures` and look at them (README gallery).
#![cfg(feature = "plots")]

use rlhf_claims::plot::{self, Chart};
use std::path::Path;

fn check_chart(name: &str, chart: &Chart, svg: &str) {
    assert!(!chart.series.is_empty(), "{name}: no curve");
    assert!(svg.contains(&chart.title), "{name}: no title");
    for s in &chart.series {
        assert!(
            s.points.len() >= 2,
            "{name} / {}: fewer than 2 points",
            s.label
        );
        assert!(
            s.points.iter().all(|(x, y)| x.is_finite() && y.is_finite()),
            "{name} / {}: non-finite point",
            s.label
        );
        let escaped = s
            .label
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        assert!(svg.contains(&escaped), "{name}: no legend {}", s.label);
    }
    // One polyline per curve plus one per legend sample.
    let lines = svg.matches("<polyline").count();
    assert!(lines >= 2 * chart.series.len(), "{name}: {lines} polylines");
}

/// The point of the Goodhart figure: every method first gains true value, then loses it to the
/// adversarial outcome (E[V] starts near the base's 0.497 and ends at the outcome's -0.5).
fn check_goodhart(chart: &Chart) {
    for s in &chart.series {
        let first = s.points[0].1;
        let peak = s
            .points
            .iter()
            .map(|p| p.1)
            .fold(f64::NEG_INFINITY, f64::max);
        let last = s.points[s.points.len() - 1].1;
        assert!(
            peak > first + 0.2 && last < first - 0.5,
            "{}: {first} {peak} {last}",
            s.label
        );
    }
}

#[test]
fn committed_figures_are_current_and_readable() -> Result<(), String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/figures");
    let update = std::env::var_os("UPDATE_FIGURES").is_some();
    let mut stale = Vec::new();
    for p in plot::all() {
        let chart = (p.build)().map_err(|e| format!("{}: {e}", p.name))?;
        let svg = plot::render_svg(&chart).map_err(|e| format!("{}: {e}", p.name))?;
        check_chart(p.name, &chart, &svg);
        if p.name == "goodhart-curves" {
            check_goodhart(&chart);
        }
        let path = dir.join(format!("{}.svg", p.name));
        if update {
            std::fs::write(&path, &svg).map_err(|e| format!("{}: {e}", path.display()))?;
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(svg.as_str()) {
            stale.push(p.name);
        }
    }
    assert!(
        stale.is_empty(),
        "stale figures {stale:?}: run UPDATE_FIGURES=1 cargo test --test figures"
    );
    Ok(())
}

#[test]
fn tick_labels_are_short() {
    assert_eq!(plot::tick(0.0), "0");
    assert_eq!(plot::tick(-5.551115123125783e-17), "0");
    assert_eq!(plot::tick(0.25), "0.25");
    assert_eq!(plot::tick(1e7), "1e7");
    assert_eq!(plot::tick(1e-5), "1e-5");
    assert_eq!(plot::tick(2.0), "2");
}
