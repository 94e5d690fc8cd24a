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
