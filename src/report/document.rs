//! The full report: one self-contained document (Markdown, HTML or LaTeX) of every checked claim,
//! with a header naming the crate version, the git commit it was built from, the command line and
//! the platform.
//!
//! For each claim: id, title, status, the statement (LaTeX; the HTML renders it with KaTeX
//! embedded in the file, fonts included, so it opens without a network), the sources with their
//! arXiv ids / DOIs / URLs, the verdict (cases, seed, worst error, tolerance, tightness), the
//! control and its outcome, the sampled witnesses when run, the shrunk counterexample, the Coq
//! theorems of machine-checked claims, and the proof's stable URL
//! ([`super::proof_url`]: the file at this version's tag). A bibliography closes the document.
//!
//! Determinism: the bytes depend only on the verdicts (hence on the seed, the budget and the crate
//! version), the command line and the platform. Wall times and the date are left out unless
//! [`Meta::timestamp`] is set.

use super::bibliography::{self, Reference};
use super::cite::{latex_text, markdown_reference, verdict_sentence};
use super::{proof_url, sci, REPOSITORY, VERSION};
use crate::claims::{machine_checked, Claim, Verdict};

/// Output format of `report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocFormat {
    /// GitHub-flavoured Markdown (math as `$...$`).
    Markdown,
    /// One HTML file with KaTeX and figures inlined.
    Html,
    /// A LaTeX article (compiles with pdflatex and the standard packages).
    Tex,
}

/// The git commit the crate was built from (`unknown` outside a git checkout).
pub const GIT_COMMIT: &str = env!("RLHF_CLAIMS_GIT_COMMIT");

/// What the header records about the run.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    /// The command line, as the user typed it.
    pub command_line: String,
    /// The seed of the checks.
    pub seed: u64,
    /// Cases per property.
    pub cases: u32,
    /// Whether the sampled witnesses were run.
    pub witnesses: bool,
    /// When set (`--timestamp`): the date line and each check's wall time are included, and the
    /// bytes are no longer reproducible.
    pub timestamp: Option<String>,
}

/// A figure to embed: its name, caption and SVG text.
#[derive(Debug, Clone)]
pub struct Figure {
    /// File stem (`goodhart-curves`); the committed copy is `docs/figures/<name>.svg`.
    pub name: String,
    /// One-line caption.
    pub caption: String,
    /// The SVG document.
    pub svg: String,
}

/// A piece of running text.
#[derive(Debug, Clone)]
enum Inline {
    /// Plain text.
    Text(String),
    /// Markdown with `$...$` math and `` `code` `` spans (the claims' statements).
    Rich(String),
    /// Monospace.
    Code(String),
    /// A hyperlink.
    Link(String, String),
}

use Inline::{Code, Link, Rich, Text};

/// One labelled field of a claim's section.
type Field = (&'static str, Vec<Inline>);

/// The platform line: OS and architecture.
fn platform() -> String {
    format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)
}

fn header_fields(meta: &Meta, results: &[(Claim, Verdict)]) -> Vec<Field> {
    let passed = results.iter().filter(|(_, v)| v.passed).count();
    let mut f: Vec<Field> = vec![
        (
            "Crate",
            vec![
                Link(format!("rlhf-claims {VERSION}"), REPOSITORY.to_string()),
                Text(format!(", commit {GIT_COMMIT}")),
            ],
        ),
        ("Command", vec![Code(meta.command_line.clone())]),
        ("Platform", vec![Text(platform())]),
        (
            "Checks",
            vec![Text(format!(
                "{} claims, {passed} passed, {} failed; {} cases per property, seed {}{}",
                results.len(),
                results.len() - passed,
                meta.cases,
                meta.seed,
                if meta.witnesses {
                    ", sampled witnesses run"
                } else {
                    ", sampled witnesses not run (add --witnesses)"
                }
            ))],
        ),
    ];
    match &meta.timestamp {
        Some(t) => f.push(("Date", vec![Text(t.clone())])),
        None => f.push((
            "Reproducibility",
            vec![Text(
                "no date or wall times are recorded (add --timestamp for them): the same seed, \
                 budget and version give the same bytes"
                    .into(),
            )],
        )),
    }
    f
}

fn claim_fields(c: &Claim, v: &Verdict, meta: &Meta) -> Vec<Field> {
    let mut f: Vec<Field> = vec![("Statement", vec![Rich(c.statement.to_string())])];
    let mut verdict = verdict_sentence(c, v, meta.seed);
    if let Some(t) = v.tightness {
        verdict.push_str(&format!("; tightness {t:.6}"));
    }
    if meta.timestamp.is_some() {
        verdict.push_str(&format!("; {:.2} s", v.seconds));
    }
    f.push(("Verdict", vec![Text(verdict)]));
    let mut control = vec![Text(c.control.description.to_string())];
    if let Some(o) = &v.control {
        control.push(Text(if o.rejected {
            ": rejected".into()
        } else {
            ": SURVIVED (the check cannot tell the wrong variant apart)".into()
        }));
        if let Some(e) = &o.evidence {
            control.push(Text(" by ".into()));
            control.push(Code(e.clone()));
        }
    }
    f.push(("Control", control));
    for w in &v.witnesses {
        f.push((
            "Witness",
            vec![Text(format!(
                "{}: statistic {}, p = {}, false-alarm rate {}; {}, negative control {}",
                w.name,
                sci(w.statistic),
                sci(w.p_value),
                sci(w.false_alarm_rate),
                if w.passed { "passed" } else { "FAILED" },
                if w.control_rejected {
                    "rejected"
                } else {
                    "NOT rejected"
                }
            ))],
        ));
    }
    if let Some(cx) = &v.counterexample {
        f.push(("Counterexample", vec![Code(cx.clone())]));
    }
    if let Some(n) = &v.note {
        f.push(("Note", vec![Text(n.clone())]));
    }
    if let Some(s) = c.settled {
        f.push(("Settled", vec![Rich(s.to_string())]));
    }
    let coq = machine_checked::for_claim(c.id);
    if !coq.is_empty() {
        let mut cells = Vec::new();
        for (k, t) in coq.iter().enumerate() {
            if k > 0 {
                cells.push(Text(", ".into()));
            }
            cells.push(Code(machine_checked::short_name(t).to_string()));
        }
        f.push(("Machine-checked (Coq)", cells));
    }
    for s in c.sources {
        let refs = bibliography::references_for(&[s]);
        let mut cells = vec![Text(s.to_string())];
        for r in refs {
            cells.push(Text(": ".into()));
            cells.push(match (r.identifier(), r.link()) {
                (Some(id), Some(link)) => Link(id, link),
                _ => Text(r.text()),
            });
        }
        f.push(("Source", cells));
    }
    f.push((
        "Proof",
        vec![Link(
            format!("proofs/{}.md at v{VERSION}", c.id),
            proof_url(c.id),
        )],
    ));
    f
}

/// Splits `$...$` math from the text around it (an unmatched `$` is text).
fn math_segments(s: &str) -> Vec<(bool, &str)> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(a) = rest.find('$') {
        let Some(len) = rest[a + 1..].find('$') else {
            break;
        };
        if a > 0 {
            out.push((false, &rest[..a]));
        }
        out.push((true, &rest[a + 1..a + 1 + len]));
        rest = &rest[a + 2 + len..];
    }
    if !rest.is_empty() {
        out.push((false, rest));
    }
    out
}

/// Splits `` `code` `` spans from plain text.
fn code_segments(s: &str) -> Vec<(bool, &str)> {
    s.split('`')
        .enumerate()
        .filter(|(_, t)| !t.is_empty())
        .map(|(k, t)| (k % 2 == 1, t))
        .collect()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Text for LaTeX: [`latex_text`] plus the characters that OT1 text fonts lack.
fn tex_text(s: &str) -> String {
    latex_text(s)
        .replace('|', "\\textbar{}")
        .replace('<', "\\textless{}")
        .replace('>', "\\textgreater{}")
        .replace('"', "''")
}

/// Code for LaTeX: monospace, breakable, specials escaped.
fn tex_code(s: &str) -> String {
    format!("\\texttt{{{}}}", tex_text(s))
}

fn render(inlines: &[Inline], format: DocFormat) -> String {
    let mut s = String::new();
    for i in inlines {
        match (i, format) {
            (Text(t), DocFormat::Markdown) => s.push_str(&t.replace('|', "\\|")),
            (Text(t), DocFormat::Html) => s.push_str(&html_escape(t)),
            (Text(t), DocFormat::Tex) => s.push_str(&tex_text(t)),
            (Rich(t), DocFormat::Markdown) => s.push_str(t),
            (Rich(t), _) => {
                for (math, seg) in math_segments(t) {
                    if math {
                        match format {
                            DocFormat::Html => s.push_str(&format!("${}$", html_escape(seg))),
                            _ => s.push_str(&format!("${seg}$")),
                        }
                    } else {
                        for (code, part) in code_segments(seg) {
                            s.push_str(&render(
                                &[if code {
                                    Code(part.to_string())
                                } else {
                                    Text(part.to_string())
                                }],
                                format,
                            ));
                        }
                    }
                }
            }
            (Code(t), DocFormat::Markdown) => {
                let t = t.replace('`', "'").replace('|', "\\|");
                s.push_str(&format!("`{t}`"));
            }
            (Code(t), DocFormat::Html) => s.push_str(&format!("<code>{}</code>", html_escape(t))),
            (Code(t), DocFormat::Tex) => s.push_str(&tex_code(t)),
            (Link(t, u), DocFormat::Markdown) => s.push_str(&format!("[{t}]({u})")),
            (Link(t, u), DocFormat::Html) => s.push_str(&format!(
                "<a href=\"{}\">{}</a>",
                html_escape(u),
                html_escape(t)
            )),
            (Link(t, u), DocFormat::Tex) => {
                s.push_str(&format!("\\href{{{}}}{{{}}}", tex_url(u), tex_text(t)))
            }
        }
    }
    s
}

/// A URL inside `\href`: `%` and `#` escaped.
fn tex_url(u: &str) -> String {
    u.replace('%', "\\%").replace('#', "\\#")
}

/// A reference as running text, its identifier linked.
fn reference_inlines(r: &Reference) -> Vec<Inline> {
    match (r.identifier(), r.link()) {
        (Some(id), Some(link)) => vec![Text(format!("{} ", r.head())), Link(id, link)],
        _ => vec![Text(r.text())],
    }
}

/// Every reference the claims cite, each once, in order of first citation.
fn all_references(results: &[(Claim, Verdict)]) -> Vec<&'static Reference> {
    let sources: Vec<&str> = results
        .iter()
        .flat_map(|(c, _)| c.sources.iter().copied())
        .collect();
    bibliography::references_for(&sources)
}

/// The report of `results`, with `figures` (embedded in HTML, linked from Markdown, listed in
/// LaTeX).
pub fn document(
    results: &[(Claim, Verdict)],
    meta: &Meta,
    figures: &[Figure],
    format: DocFormat,
) -> String {
    match format {
        DocFormat::Markdown => markdown(results, meta, figures),
        DocFormat::Html => html(results, meta, figures),
        DocFormat::Tex => tex(results, meta, figures),
    }
}

const TITLE: &str = "rlhf-claims: the claims and their verdicts";

fn markdown(results: &[(Claim, Verdict)], meta: &Meta, figures: &[Figure]) -> String {
    let f = DocFormat::Markdown;
    let mut s = format!("# {TITLE}\n\n");
    for (label, v) in header_fields(meta, results) {
        s.push_str(&format!("- **{label}:** {}\n", render(&v, f)));
    }
    s.push_str("\n## Summary\n\n| id | status | verdict |\n| --- | --- | --- |\n");
    for (c, v) in results {
        s.push_str(&format!(
            "| [`{}`](#{}) | {} | {} |\n",
            c.id,
            anchor(c.id),
            c.status.as_str(),
            super::verdict_word(c, v)
        ));
    }
    if !figures.is_empty() {
        s.push_str("\n## Figures\n\n");
        for fig in figures {
            s.push_str(&format!(
                "![{}](docs/figures/{}.svg)\n\n*{}*\n\n",
                fig.caption, fig.name, fig.caption
            ));
        }
    }
    s.push_str("\n## Claims\n");
    for (c, v) in results {
        s.push_str(&format!(
            "\n### {}\n\n**{}** ({})\n\n",
            c.id,
            c.title.replace('|', "\\|"),
            c.status.as_str()
        ));
        for (label, cells) in claim_fields(c, v, meta) {
            s.push_str(&format!("- **{label}:** {}\n", render(&cells, f)));
        }
    }
    s.push_str("\n## References\n\n");
    for r in all_references(results) {
        s.push_str(&format!("- {}\n", markdown_reference(r)));
    }
    s
}

/// The anchor GitHub derives from a `### kl.tilt` heading (dots dropped).
fn anchor(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

const KATEX_JS: &str = include_str!("../../assets/katex/katex.min.js");
const KATEX_AUTO_RENDER: &str = include_str!("../../assets/katex/auto-render.min.js");
const KATEX_CSS: &str = include_str!("../../assets/katex/katex.inline.min.css");

const HTML_STYLE: &str = "body{font-family:Georgia,serif;max-width:60rem;margin:2rem auto;\
padding:0 1rem;line-height:1.45;color:#222}code{font-size:.85em;background:#f3f3f3;\
padding:0 .2em;word-break:break-all}table{border-collapse:collapse}td,th{border:1px solid #ccc;\
padding:.15rem .5rem;text-align:left}section.claim{border-top:1px solid #ddd;margin-top:1.5rem}\
dl{display:grid;grid-template-columns:11rem 1fr;gap:.25rem .75rem}dt{font-weight:bold}dd{margin:0}\
.fail{color:#a00;font-weight:bold}figure{margin:1rem 0}figure svg{max-width:100%;height:auto}\
figcaption{font-style:italic}";

fn html(results: &[(Claim, Verdict)], meta: &Meta, figures: &[Figure]) -> String {
    let f = DocFormat::Html;
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{TITLE}</title>\n<style>{HTML_STYLE}</style>\n<style>{KATEX_CSS}</style>\n\
         <script>{KATEX_JS}</script>\n<script>{KATEX_AUTO_RENDER}</script>\n</head>\n<body>\n\
         <h1>{TITLE}</h1>\n<dl>\n"
    );
    for (label, v) in header_fields(meta, results) {
        s.push_str(&format!("<dt>{label}</dt><dd>{}</dd>\n", render(&v, f)));
    }
    s.push_str(
        "</dl>\n<h2>Summary</h2>\n<table>\n<tr><th>id</th><th>status</th><th>verdict</th></tr>\n",
    );
    for (c, v) in results {
        let word = super::verdict_word(c, v);
        let class = if v.passed { "" } else { " class=\"fail\"" };
        s.push_str(&format!(
            "<tr><td><a href=\"#{}\"><code>{}</code></a></td><td>{}</td><td{class}>{}</td></tr>\n",
            c.id,
            c.id,
            c.status.as_str(),
            html_escape(word)
        ));
    }
    s.push_str("</table>\n");
    if !figures.is_empty() {
        s.push_str("<h2>Figures</h2>\n");
        for fig in figures {
            s.push_str(&format!(
                "<figure id=\"figure-{}\">\n{}\n<figcaption>{}</figcaption>\n</figure>\n",
                fig.name,
                strip_xml_declaration(&fig.svg),
                html_escape(&fig.caption)
            ));
        }
    }
    s.push_str("<h2>Claims</h2>\n");
    for (c, v) in results {
        s.push_str(&format!(
            "<section class=\"claim\" id=\"{}\">\n<h3><code>{}</code>: {} ({})</h3>\n<dl>\n",
            c.id,
            c.id,
            html_escape(c.title),
            c.status.as_str()
        ));
        for (label, cells) in claim_fields(c, v, meta) {
            s.push_str(&format!("<dt>{label}</dt><dd>{}</dd>\n", render(&cells, f)));
        }
        s.push_str("</dl>\n</section>\n");
    }
    s.push_str("<h2>References</h2>\n<ul>\n");
    for r in all_references(results) {
        let cells = reference_inlines(r);
        s.push_str(&format!(
            "<li id=\"ref-{}\">{}</li>\n",
            r.key,
            render(&cells, f)
        ));
    }
    s.push_str(
        "</ul>\n<script>renderMathInElement(document.body,{delimiters:[{left:\"$\",right:\"$\",\
         display:false}],throwOnError:false});</script>\n</body>\n</html>\n",
    );
    s
}

/// An SVG document without its `<?xml ...?>` line, for inlining in HTML.
fn strip_xml_declaration(svg: &str) -> &str {
    match svg.strip_prefix("<?xml") {
        Some(rest) => rest.find("?>").map_or(svg, |k| rest[k + 2..].trim_start()),
        None => svg,
    }
}

fn tex(results: &[(Claim, Verdict)], meta: &Meta, figures: &[Figure]) -> String {
    let f = DocFormat::Tex;
    let mut s = format!(
        "\\documentclass[11pt]{{article}}\n\\usepackage[margin=2.2cm]{{geometry}}\n\
         \\usepackage{{amsmath,amssymb}}\n\\usepackage{{longtable}}\n\
         \\usepackage[hidelinks]{{hyperref}}\n\\usepackage{{url}}\n\
         \\setlength{{\\parindent}}{{0pt}}\n\\setlength{{\\parskip}}{{0.4em}}\n\
         \\sloppy\n\\title{{{}}}\n\\author{{{}}}\n\\date{{{}}}\n\\begin{{document}}\n\\maketitle\n\
         \\begin{{description}}\n",
        tex_text(TITLE),
        tex_text(&format!("rlhf-claims {VERSION}")),
        meta.timestamp.as_deref().map(tex_text).unwrap_or_default()
    );
    for (label, v) in header_fields(meta, results) {
        s.push_str(&format!("\\item[{label}] {}\n", render(&v, f)));
    }
    s.push_str(
        "\\end{description}\n\\section*{Summary}\n\\begin{longtable}{lll}\n\
         id & status & verdict\\\\\n\\hline\n\\endhead\n",
    );
    for (c, v) in results {
        s.push_str(&format!(
            "\\hyperref[claim:{}]{{{}}} & {} & {}\\\\\n",
            c.id,
            tex_code(c.id),
            c.status.as_str(),
            tex_text(super::verdict_word(c, v))
        ));
    }
    s.push_str("\\end{longtable}\n");
    if !figures.is_empty() {
        s.push_str(
            "\\section*{Figures}\nThe figures are SVG files in the repository (the HTML report \
             embeds them):\n\\begin{itemize}\n",
        );
        for fig in figures {
            let url = format!("{REPOSITORY}/blob/v{VERSION}/docs/figures/{}.svg", fig.name);
            s.push_str(&format!(
                "\\item \\href{{{}}}{{{}}}: {}\n",
                tex_url(&url),
                tex_code(&format!("docs/figures/{}.svg", fig.name)),
                tex_text(&fig.caption)
            ));
        }
        s.push_str("\\end{itemize}\n");
    }
    s.push_str("\\section*{Claims}\n");
    for (c, v) in results {
        s.push_str(&format!(
            "\\subsection*{{{}: {} ({})}}\\label{{claim:{}}}\n\\begin{{description}}\n",
            tex_code(c.id),
            tex_text(c.title),
            c.status.as_str(),
            c.id
        ));
        for (label, cells) in claim_fields(c, v, meta) {
            s.push_str(&format!("\\item[{label}] {}\n", render(&cells, f)));
        }
        s.push_str("\\end{description}\n");
    }
    s.push_str("\\section*{References}\n\\begin{itemize}\n");
    for r in all_references(results) {
        let cells = reference_inlines(r);
        s.push_str(&format!("\\item {}\n", render(&cells, f)));
    }
    s.push_str("\\end{itemize}\n\\end{document}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn math_and_code_segments_split_as_written() {
        assert_eq!(
            math_segments("a $x_1$ b $y$"),
            [(false, "a "), (true, "x_1"), (false, " b "), (true, "y")]
        );
        assert_eq!(math_segments("cost $5"), [(false, "cost $5")]);
        assert_eq!(
            code_segments("a `b` c"),
            [(false, "a "), (true, "b"), (false, " c")]
        );
    }

    #[test]
    fn tex_text_escapes_what_ot1_cannot_print() {
        assert_eq!(
            tex_text("KL(p||q) < 1_0"),
            "KL(p\\textbar{}\\textbar{}q) \\textless{} 1\\_0"
        );
    }

    #[test]
    fn strips_the_xml_declaration_only() {
        assert_eq!(
            strip_xml_declaration("<?xml version=\"1.0\"?>\n<svg/>"),
            "<svg/>"
        );
        assert_eq!(strip_xml_declaration("<svg/>"), "<svg/>");
    }
}
