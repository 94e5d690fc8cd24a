"""Calling the exact solvers from Python through the JSON interface, no bindings needed.

    python3 examples/solve_from_python.py [path/to/rlhf-claims]

Sends a tilt problem to `rlhf-claims solve` on stdin, reads the JSON solution, and checks it
against the closed form pi ∝ pi0 exp(r / beta) computed here in plain Python (relative 1e-12:
a few ulps for each of exp, the sum of 4 terms and the division, with a wide margin). Then
sends a problem with an invalid beta and checks the typed error object and the exit status 2.
Standard library only.
"""

import json
import math
import subprocess
import sys


def solve(binary, problem):
    run = subprocess.run([binary, "solve"], input=json.dumps(problem), capture_output=True, text=True)
    return run.returncode, json.loads(run.stdout)


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/rlhf-claims"
    base, reward, beta = [0.4, 0.3, 0.2, 0.1], [0.0, 1.0, 2.0, 5.0], 1.5
    code, sol = solve(binary, {"solver": "tilt", "base": base, "reward": reward, "beta": beta})
    w = [b * math.exp((r - max(reward)) / beta) for b, r in zip(base, reward)]
    expected = [x / sum(w) for x in w]
    errors = [abs(p - e) / e for p, e in zip(sol["policy"], expected)]
    print(f"tilt policy {sol['policy']}, kl {sol['kl']:.6f}; max relative error {max(errors):.1e}")
    ok = code == 0 and max(errors) <= 1e-12
    code, err = solve(binary, {"solver": "tilt", "base": base, "reward": reward, "beta": 0.0})
    print(f"beta = 0: exit {code}, {err}")
    ok = ok and code == 2 and err["error"]["kind"] == "invalid_parameter"
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
