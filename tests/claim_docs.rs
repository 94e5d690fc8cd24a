//! `docs/claims/<module>.md` (appended to each claims module's rustdoc page) is the registry's:
//! regenerate with `UPDATE_CLAIM_DOCS=1 cargo test --test claim_docs`.

use rlhf_claims::report::claim_docs;

#[test]
fn claim_docs_are_current_and_cover_every_claim() -> Result<(), String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/claims");
    let update = std::env::var_os("UPDATE_CLAIM_DOCS").is_some();
    let mut seen = 0;
    for (module, claims) in claim_docs::modules() {
        seen += claims.len();
        let path = format!("{dir}/{module}.md");
        let expected = claim_docs::module_doc(&claims);
        if update {
            std::fs::write(&path, &expected).map_err(|e| format!("{path}: {e}"))?;
        } else {
            let current = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
            assert!(current == expected, "{path} is stale: UPDATE_CLAIM_DOCS=1");
        }
    }
    assert_eq!(
        seen,
        rlhf_claims::claims::all().len(),
        "a claims module is not listed"
    );
    Ok(())
}

#[test]
fn rustdoc_math_protects_the_latex() {
    assert_eq!(
        claim_docs::rustdoc_math(r"$KL(\pi\|\pi_0)$ and $E_\pi[r] < 1$, `a[0]`"),
        r"$KL(\pi\\|\pi_0)$ and $E_\pi\[r\] &lt; 1$, `a[0]`"
    );
}
