//! Figures as SVG (feature `plots`, on by default): the curves behind the claims, computed by the
//! exact solvers and drawn with plotters' SVG backend (text is left to the viewer's fonts; no
//! system font is read, so the bytes are the same on every machine).
//!
//! [`all`] lists the figures; [`svg`] draws one. The committed copies live in `docs/figures/`
//! (`tests/figures.rs` regenerates them and fails when one is stale); `rlhf-claims plot NAME
//! --out FILE.svg` writes one.
//!
//! Every plotted quantity is recomputed from the returned policy where the solver also reports it
//! (`KL` through [`crate::divergence::kl`], expectations as sums over the policy).

use crate::dist::Dist;
use crate::divergence;
use crate::error::{Error, Result};
use crate::solve::{self, Solution};
use crate::tables::{self, Cell};
use plotters::prelude::*;

/// One curve: a label and its points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// `(x, y)` points in drawing order.
    pub points: Vec<(f64, f64)>,
}

/// A chart: axes, scales and curves.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Title drawn above the plot.
    pub title: String,
    /// X-axis label.
    pub x_label: String,
    /// Y-axis label.
    pub y_label: String,
    /// Logarithmic x axis.
    pub x_log: bool,
    /// Logarithmic y axis.
    pub y_log: bool,
    /// The curves.
    pub series: Vec<Series>,
    /// Where the legend goes (away from the curves).
    pub legend: Legend,
}

/// Legend corner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legend {
    /// Lower left corner.
    LowerLeft,
    /// Lower right corner.
    LowerRight,
}

/// A tick label: `0`, up to three decimals with trailing zeros dropped, or `1e7` / `3e-5`
/// outside `[1e-3, 1e4)`.
pub fn tick(v: f64) -> String {
    let a = v.abs();
    // Below 1e-15 a tick on a linear axis is a rounding residue of 0 (a log axis here never
    // goes below the passk floor, 1e-12).
    if a < 1e-15 {
        return "0".into();
    }
    if !(1e-3..1e4).contains(&a) {
        let s = format!("{v:.0e}");
        return s.replace("e-0", "e-").replace("1e0", "1");
    }
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// A registered figure.
#[derive(Debug, Clone, Copy)]
pub struct PlotSpec {
    /// Name (`goodhart-curves`): the CLI argument and the file stem in `docs/figures/`.
    pub name: &'static str,
    /// One-line caption.
    pub caption: &'static str,
    /// Computes the chart.
    pub build: fn() -> Result<Chart>,
}

/// Every figure, in the order the report shows them.
pub fn all() -> Vec<PlotSpec> {
    vec![
        PlotSpec {
            name: "goodhart-curves",
            caption: "True value E[V] against KL(pi||pi0) for the tilt, best-of-N, conditioning \
                      and the quantilizer, all optimizing a proxy U = V except on one rare \
                      adversarial outcome (U = 1.5, V = -0.5)",
            build: goodhart_curves,
        },
        PlotSpec {
            name: "bon-kl-bound",
            caption: "Exact KL(best-of-N || pi0) against N, and the bound log N - (N-1)/N \
                      (table bon-kl)",
            build: bon_kl_bound,
        },
        PlotSpec {
            name: "beta-kl-map",
            caption: "The tilt's KL(pi_beta||pi0) and E[r] against beta (base 0.4, 0.3, 0.2, \
                      0.1; reward 0, 1, 2, 3)",
            build: beta_kl_map,
        },
        PlotSpec {
            name: "outlier-tradeoff",
            caption: "The adversarial outlier: mass on the adversarial output against the mean \
                      ordinary reward along the tilt (table goodhart-outlier)",
            build: outlier_tradeoff,
        },
        PlotSpec {
            name: "passk",
            caption: "1 - pass@k against k: exponential decay on a finite task set, a power law \
                      for Beta-distributed success rates (table passk)",
            build: passk,
        },
    ]
}

/// The SVG of figure `name`.
pub fn svg(name: &str) -> Result<String> {
    let spec = all()
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| Error::InvalidInput(format!("unknown figure {name:?} (`plot --list`)")))?;
    render_svg(&(spec.build)()?)
}

/// Log-spaced values from `10^a` to `10^b`, `n` of them.
fn logspace(a: f64, b: f64, n: usize) -> impl Iterator<Item = f64> {
    (0..n).map(move |k| 10f64.powf(a + (b - a) * k as f64 / (n - 1).max(1) as f64))
}

/// `(KL(policy||base), E_policy[v])`, recomputed from the policy.
fn kl_and_mean(s: &Solution, base: &Dist, v: &[f64]) -> Result<(f64, f64)> {
    let kl = divergence::kl(&s.policy, base)?;
    let mean = s.policy.probs().iter().zip(v).map(|(p, x)| p * x).sum();
    Ok((kl, mean))
}

/// The Goodhart example: 200 ordinary outcomes with `U = V` evenly spaced on `[0, 1]`, weight 1
/// each, and one adversarial outcome with `U = 1.5`, `V = -0.5`, weight 0.2 (base mass 1e-3).
fn goodhart_example() -> Result<(Dist, Vec<f64>, Vec<f64>)> {
    let n = 200;
    let mut w = vec![1.0; n];
    let mut u: Vec<f64> = (0..n).map(|k| k as f64 / (n - 1) as f64).collect();
    let mut v = u.clone();
    w.push(0.2);
    u.push(1.5);
    v.push(-0.5);
    Ok((Dist::from_weights(w)?, u, v))
}

fn goodhart_curves() -> Result<Chart> {
    let (base, u, v) = goodhart_example()?;
    let mut tilt = Vec::new();
    for beta in logspace(1.0, -3.0, 81) {
        tilt.push(kl_and_mean(
            &solve::tilt(&base, &u, beta)?.solution,
            &base,
            &v,
        )?);
    }
    let mut bon = Vec::new();
    for k in 0..=14 {
        let s = solve::best_of_n(&base, &u, 1u64 << k)?.solution;
        bon.push(kl_and_mean(&s, &base, &v)?);
    }
    let mut cond = Vec::new();
    for k in 0..=60 {
        let t = 1.2 * k as f64 / 60.0;
        let s = solve::condition_on_threshold(&base, &u, t)?;
        cond.push(kl_and_mean(&s, &base, &v)?);
    }
    let mut quant = Vec::new();
    for q in logspace(0.0, -3.2, 60) {
        let s = solve::quantilize(&base, &u, q)?.solution;
        quant.push(kl_and_mean(&s, &base, &v)?);
    }
    Ok(Chart {
        title: "Goodhart curves: true value against KL".into(),
        x_label: "KL(pi || pi0) (nats)".into(),
        y_label: "E[V]".into(),
        x_log: false,
        y_log: false,
        legend: Legend::LowerLeft,
        series: vec![
            Series {
                label: "tilt (beta from 10 to 1e-3)".into(),
                points: tilt,
            },
            Series {
                label: "best-of-N (N = 1 .. 2^14)".into(),
                points: bon,
            },
            Series {
                label: "conditioning on U >= t".into(),
                points: cond,
            },
            Series {
                label: "quantilizer (top q)".into(),
                points: quant,
            },
        ],
    })
}

/// The index of column `name` of `t`.
fn column_index(t: &tables::Table, name: &str) -> Result<usize> {
    t.columns
        .iter()
        .position(|c| c == name)
        .ok_or_else(|| Error::InvalidInput(format!("table has no column {name}")))
}

/// The numeric cells of column `name` of `t`, row by row (`None` for a non-number).
fn column(t: &tables::Table, name: &str) -> Result<Vec<Option<f64>>> {
    let k = column_index(t, name)?;
    Ok(t.rows
        .iter()
        .map(|r| match r.get(k) {
            Some(Cell::Num(x)) => Some(*x),
            _ => None,
        })
        .collect())
}

/// The text cells of column `name` of `t`.
fn labels(t: &tables::Table, name: &str) -> Result<Vec<String>> {
    let k = column_index(t, name)?;
    Ok(t.rows
        .iter()
        .map(|r| match r.get(k) {
            Some(Cell::Text(s)) => s.clone(),
            _ => String::new(),
        })
        .collect())
}

/// Series of `(x, y)` from a table, one per distinct value of `group` (in order of appearance),
/// keeping rows where `keep` holds and both values are positive finite numbers (log axes).
fn grouped(
    t: &tables::Table,
    group: &str,
    x: &str,
    y: &str,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<Series>> {
    let (g, xs, ys) = (labels(t, group)?, column(t, x)?, column(t, y)?);
    let mut out: Vec<Series> = Vec::new();
    for ((label, x), y) in g.iter().zip(xs).zip(ys) {
        let (Some(x), Some(y)) = (x, y) else { continue };
        if !(keep(label) && x > 0.0 && y > 0.0 && x.is_finite() && y.is_finite()) {
            continue;
        }
        match out.iter_mut().find(|s| &s.label == label) {
            Some(s) => s.points.push((x, y)),
            None => out.push(Series {
                label: label.clone(),
                points: vec![(x, y)],
            }),
        }
    }
    Ok(out)
}

fn bon_kl_bound() -> Result<Chart> {
    let t = tables::build("bon-kl")?;
    let mut series = grouped(&t, "base", "n", "kl", |_| true)?;
    let bound: Vec<(f64, f64)> = (1..=40)
        .map(|k| {
            let n = 1u64 << k;
            (n as f64, solve::best_of_n::kl_bound(n))
        })
        .collect();
    series.push(Series {
        label: "bound log N - (N-1)/N".into(),
        points: bound,
    });
    Ok(Chart {
        title: "Best-of-N: exact KL and the log N - (N-1)/N bound".into(),
        x_label: "N".into(),
        y_label: "KL(BoN || pi0) (nats)".into(),
        x_log: true,
        y_log: true,
        legend: Legend::LowerRight,
        series,
    })
}

fn beta_kl_map() -> Result<Chart> {
    let base = Dist::new(vec![0.4, 0.3, 0.2, 0.1])?;
    let r = [0.0, 1.0, 2.0, 3.0];
    let (mut kl, mut er) = (Vec::new(), Vec::new());
    for beta in logspace(-2.0, 2.0, 81) {
        let (k, e) = kl_and_mean(&solve::tilt(&base, &r, beta)?.solution, &base, &r)?;
        kl.push((beta, k));
        er.push((beta, e));
    }
    Ok(Chart {
        title: "The beta-to-KL map of the tilt".into(),
        x_label: "beta".into(),
        y_label: "KL(pi_beta || pi0) (nats); E[r]".into(),
        x_log: true,
        y_log: true,
        legend: Legend::LowerLeft,
        series: vec![
            Series {
                label: "KL(pi_beta || pi0)".into(),
                points: kl,
            },
            Series {
                label: "E[r] under pi_beta".into(),
                points: er,
            },
        ],
    })
}

/// The base's mean ordinary reward in the outlier model (uniform on `[0, 100]`).
const OUTLIER_BASE_MEAN: f64 = 50.0;

fn outlier_tradeoff() -> Result<Chart> {
    let mut t = tables::build("goodhart-outlier")?;
    let k = column_index(&t, "mean_ordinary_reward")?;
    for row in &mut t.rows {
        if let Some(Cell::Num(x)) = row.get_mut(k) {
            *x -= OUTLIER_BASE_MEAN;
        }
    }
    let series = grouped(
        &t,
        "policy",
        "mean_ordinary_reward",
        "adversarial_mass",
        |l| l == "tilt",
    )?;
    Ok(Chart {
        title: "Adversarial outlier: the tradeoff along the tilt".into(),
        x_label: "gain in mean ordinary reward over the base (50)".into(),
        y_label: "mass on the adversarial output".into(),
        x_log: true,
        y_log: true,
        legend: Legend::LowerRight,
        series,
    })
}

/// Smallest failure probability drawn by `passk` (the finite set's curve falls to 1e-300).
const PASSK_FLOOR: f64 = 1e-12;

fn passk() -> Result<Chart> {
    let t = tables::build("passk")?;
    let mut series = grouped(&t, "population", "k", "fail", |_| true)?;
    for s in &mut series {
        s.points.retain(|p| p.1 >= PASSK_FLOOR);
    }
    Ok(Chart {
        title: "Repeated sampling: 1 - pass@k".into(),
        x_label: "k".into(),
        y_label: "1 - pass@k".into(),
        x_log: true,
        y_log: true,
        legend: Legend::LowerLeft,
        series,
    })
}

/// The range of the values, widened a little (multiplicatively on a log axis); a degenerate
/// range is widened to a unit interval.
fn range(values: impl Iterator<Item = f64>, log: bool) -> Result<(f64, f64)> {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    if !(lo.is_finite() && hi.is_finite()) {
        return Err(Error::InvalidInput("a chart with no finite points".into()));
    }
    Ok(if log {
        (lo / 1.5, hi * 1.5)
    } else if hi > lo {
        let pad = 0.04 * (hi - lo);
        (lo - pad, hi + pad)
    } else {
        (lo - 0.5, hi + 0.5)
    })
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(90, 90, 90),
];

fn draw_err<E: std::error::Error>(e: E) -> Error {
    Error::InvalidInput(format!("drawing failed: {e}"))
}

/// Draws `chart` as an SVG document (800 x 500).
pub fn render_svg(chart: &Chart) -> Result<String> {
    let xr = range(
        chart
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0)),
        chart.x_log,
    )?;
    let yr = range(
        chart
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1)),
        chart.y_log,
    )?;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (800, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        match (chart.x_log, chart.y_log) {
            (false, false) => draw(&root, chart, xr.0..xr.1, yr.0..yr.1)?,
            (true, false) => draw(&root, chart, (xr.0..xr.1).log_scale(), yr.0..yr.1)?,
            (false, true) => draw(&root, chart, xr.0..xr.1, (yr.0..yr.1).log_scale())?,
            (true, true) => draw(
                &root,
                chart,
                (xr.0..xr.1).log_scale(),
                (yr.0..yr.1).log_scale(),
            )?,
        }
        root.present().map_err(draw_err)?;
    }
    Ok(out)
}

fn draw<X, Y>(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    chart: &Chart,
    x: X,
    y: Y,
) -> Result<()>
where
    X: plotters::coord::ranged1d::AsRangedCoord<Value = f64>,
    Y: plotters::coord::ranged1d::AsRangedCoord<Value = f64>,
    X::CoordDescType: plotters::coord::ranged1d::ValueFormatter<f64>,
    Y::CoordDescType: plotters::coord::ranged1d::ValueFormatter<f64>,
{
    let mut c = ChartBuilder::on(root)
        .caption(&chart.title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x, y)
        .map_err(draw_err)?;
    c.configure_mesh()
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .axis_desc_style(("sans-serif", 16))
        .label_style(("sans-serif", 13))
        .light_line_style(RGBColor(235, 235, 235))
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .draw()
        .map_err(draw_err)?;
    for (k, s) in chart.series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        c.draw_series(LineSeries::new(
            s.points.iter().copied(),
            color.stroke_width(2),
        ))
        .map_err(draw_err)?
        .label(s.label.clone())
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    }
    c.configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .label_font(("sans-serif", 13))
        .position(match chart.legend {
            Legend::LowerLeft => SeriesLabelPosition::LowerLeft,
            Legend::LowerRight => SeriesLabelPosition::LowerRight,
        })
        .draw()
        .map_err(draw_err)?;
    Ok(())
}
