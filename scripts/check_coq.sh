#!/usr/bin/env bash
# Builds the Coq proofs under proofs/coq and audits every theorem cited by a proof file:
# it must exist, and `Print Assumptions` may list only the standard library's axioms of the
# classical real numbers (below). Two negative controls: a false statement that Coq must reject,
# and a theorem proved from an extra axiom that the audit must reject.
# Ends with `coq: N passed, M failed` and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../proofs/coq"

# The machine-checked theorems: claim id, then the theorem's qualified name. Keep in sync with
# src/claims/machine_checked.rs (a Rust test compares them).
CITED="
kl.tilt RLHF.Tilt.kl_tilt
kl.gap RLHF.Tilt.kl_gap
kl.support RLHF.Tilt.kl_support
kl.support RLHF.Tilt.kl_support_finite
kl.odds RLHF.Odds.kl_odds
kl.maxent RLHF.Tilt.kl_maxent
kl.monotone RLHF.Monotone.kl_monotone
kl.monotone RLHF.Budget.kl_monotone_ranges
lagrange.kl-budget RLHF.Budget.lagrange_kl_budget
lagrange.reward-target RLHF.Budget.lagrange_reward_target
lagrange.threshold RLHF.Threshold.lagrange_threshold
quantilizer.cost RLHF.Quantilizer.quantilizer_cost
quantilizer.cost RLHF.Quantilizer.quant_dist
quantilizer.kl RLHF.Quantilizer.quantilizer_kl
quantilizer.kl RLHF.Quantilizer.quantilizer_kl_value
estimator.unbiased RLHF.Estimator.estimator_unbiased
estimator.unbiased RLHF.Estimator.estimator_var_k1
estimator.sign RLHF.Estimator.k3_nonneg
estimator.sign RLHF.Estimator.estimator_sign
goodhart.reweighting RLHF.Odds.goodhart_reweighting
goodhart.reweighting RLHF.Odds.optimizers_are_reweightings
lagrange.duality RLHF.Corollaries.lagrange_duality
conditioning.tilt-closest RLHF.Corollaries.conditioning_tilt_closest
conditioning.tilt-closest RLHF.Corollaries.reweighting_supp
conditioning.uniform-maxent RLHF.Corollaries.conditioning_uniform_maxent
bon.kl-bound RLHF.BonBound.bon_kl_bound
grpo.stationary RLHF.Grpo.grpo_update_sum
grpo.stationary RLHF.Grpo.grpo_stationary
grpo.stationary RLHF.Grpo.grpo_stationary_supp
"

# The axioms Coq 8.16's standard library uses to construct the classical reals (Reals): any
# other axiom, and any Admitted lemma (which Print Assumptions lists as an axiom), fails.
ALLOWED_AXIOMS="
ClassicalDedekindReals.sig_not_dec
ClassicalDedekindReals.sig_forall_dec
FunctionalExtensionality.functional_extensionality_dep
Classical_Prop.classic
"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok    $*"; }
fail() { failed=$((failed + 1)); echo "FAIL  $*"; }
finish() {
    echo "coq: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}

if ! command -v coqc >/dev/null || ! command -v coq_makefile >/dev/null; then
    fail "coqc or coq_makefile not found (install Coq, e.g. apt-get install coq)"
    finish
fi
echo "$(coqc --version | head -1)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. Build every theory.
start=$SECONDS
if coq_makefile -f _CoqProject -o Makefile.coq >"$work/makefile.log" 2>&1 &&
    make -f Makefile.coq -j2 >"$work/build.log" 2>&1; then
    pass "build of proofs/coq ($((SECONDS - start)) s)"
else
    cat "$work/makefile.log" "$work/build.log" 2>/dev/null | tail -30
    fail "build of proofs/coq"
    finish
fi

# 2. No Admitted, admit, Axiom, Parameter or Conjecture in the theories.
if grep -nwE 'Admitted|admit|Axiom|Axioms|Parameter|Parameters|Conjecture' theories/*.v \
    >"$work/grep.log"; then
    cat "$work/grep.log"
    fail "theories contain Admitted/admit/Axiom/Parameter/Conjecture"
else
    pass "no Admitted, admit, Axiom, Parameter or Conjecture in theories/"
fi

# Writes the `Print Assumptions` output of the theorem $1 (qualified name) to $work/<name>.out.
# With several theorems, one coqc run serves them all.
print_assumptions() {
    local dir=$1 file=$2
    shift 2
    : >"$file.v"
    for thm in "$@"; do
        printf 'Require Import %s.\nRedirect "%s/%s" Print Assumptions %s.\n' \
            "${thm%.*}" "$work" "${thm//./_}" "$thm" >>"$file.v"
    done
    coqc -q $dir "$file.v" >"$file.log" 2>&1
}

# Checks the assumptions printed for theorem $1: only allowed axioms.
allowed_only() {
    local out="$work/${1//./_}.out" bad=""
    if ! grep -qE '^(Axioms:|Closed under the global context)' "$out" 2>/dev/null; then
        echo "      no assumptions printed for $1 (it does not exist or does not compile)"
        return 1
    fi
    while IFS= read -r line; do
        case "$line" in
            "" | "Axioms:" | "Closed under the global context" | " "*) continue ;;
        esac
        grep -qxF "${line%% *}" <<<"$ALLOWED_AXIOMS" || bad="$bad ${line%% *}"
    done <"$out"
    if [ -n "$bad" ]; then
        echo "      depends on axioms outside the allowed list:$bad"
        return 1
    fi
}

# 3. Every cited theorem exists and is closed under the allowed axioms. One coqc run for all;
# if it fails (a cited theorem does not exist), each theorem is run alone to name the culprit.
mapfile -t theorems < <(awk 'NF == 2 {print $2}' <<<"$CITED" | sort -u)
start=$SECONDS
if ! print_assumptions "-R theories RLHF" "$work/all" "${theorems[@]}"; then
    for thm in "${theorems[@]}"; do
        print_assumptions "-R theories RLHF" "$work/one_${thm//./_}" "$thm" ||
            echo "      $thm: $(tr '\n' ' ' <"$work/one_${thm//./_}.log" | cut -c1-200)"
    done
fi
while read -r claim thm; do
    [ -z "$claim" ] && continue
    if allowed_only "$thm"; then
        pass "$claim: $thm (assumptions: classical reals only)"
    else
        fail "$claim: $thm"
    fi
done <<<"$CITED"
echo "      (audit took $((SECONDS - start)) s)"

# 4. Negative control: the false statement must be rejected, by a failed tactic.
if coqc -q -R theories RLHF negative/KlAtLeastOne.v >"$work/neg.log" 2>&1; then
    fail "negative control: the false statement 'KL >= 1' was ACCEPTED"
elif grep -qE 'was not found|Syntax error|Cannot find a physical path' "$work/neg.log"; then
    cat "$work/neg.log"
    fail "negative control: rejected for the wrong reason (missing name or syntax)"
else
    pass "negative control: the false statement 'KL >= 1' is rejected ($(grep -m1 -o 'Error:.*' "$work/neg.log" | head -c 60))"
fi
rm -f negative/*.vo negative/*.vok negative/*.vos negative/*.glob negative/.*.aux

# 5. Audit control: a theorem proved from an extra axiom must fail the audit.
mkdir -p "$work/neg"
cp negative/AxiomAudit.v "$work/neg/"
if coqc -q -R "$work/neg" NEG "$work/neg/AxiomAudit.v" >"$work/neg2.log" 2>&1; then
    print_assumptions "-R $work/neg NEG" "$work/neg/audit" NEG.AxiomAudit.one_is_zero
    if allowed_only NEG.AxiomAudit.one_is_zero >/dev/null; then
        fail "audit control: a theorem proved from an extra axiom passed the audit"
    else
        pass "audit control: a theorem proved from an extra axiom is rejected by the audit"
    fi
else
    cat "$work/neg2.log"
    fail "audit control: the axiom file does not compile"
fi

finish
