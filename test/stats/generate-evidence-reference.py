"""Reference values for the evidence tests and off-policy estimates (test/fixtures/evidence-reference.json).

Independent of the library's closed forms: the always-valid p-value is 1 / M where M, the
normal-mixture martingale, is integrated numerically (scipy.integrate.quad), and each end of the
confidence sequence is the root (scipy.optimize.brentq) of p(theta) = alpha. Latency quantiles use
numpy's inverted-CDF quantile. Run: python3 test/stats/generate-evidence-reference.py
"""
import json
import math
import sys

import numpy as np
import scipy
from scipy import integrate, optimize, stats


def rho_of(alpha, tuning):
    l = -2 * math.log(alpha)
    return math.sqrt((l + math.log(l + 1)) / tuning)


def log_mixture(theta_hat, theta, se, n, rho):
    """log M_n, M_n = integral of exp(lambda*S - lambda^2 V / 2) dN(lambda; 0, tau^2), tau^2 = rho^2 / s^2."""
    s2 = se * se * n
    S = n * (theta_hat - theta)
    V = n * s2
    tau = math.sqrt(rho * rho / s2)
    exponent = lambda lam: lam * S - lam * lam * V / 2 + stats.norm.logpdf(lam, 0, tau)
    peak = S / (V + 1 / (tau * tau))
    top = exponent(peak)
    width = 1 / math.sqrt(V + 1 / (tau * tau))
    value, _ = integrate.quad(lambda lam: math.exp(exponent(lam) - top), peak - 40 * width, peak + 40 * width,
                              points=[peak], limit=400, epsabs=0, epsrel=1e-13)
    return top + math.log(value)


def p_value(theta_hat, theta, se, n, rho):
    return min(1.0, math.exp(-log_mixture(theta_hat, theta, se, n, rho)))


def adjusted_var(x, n):
    r = (x + 1) / (n + 2)
    return r * (1 - r) / (n + 2)


def non_inferiority(b, c, alpha, margin, tuning):
    rho = rho_of(alpha, tuning)
    pb, pc = b[0] / b[1], c[0] / c[1]
    d = pc - pb
    se = math.sqrt(adjusted_var(*b) + adjusted_var(*c))
    n = b[1] + c[1]
    g = lambda theta: p_value(d, theta, se, n, rho) - alpha
    span = 20 * se
    low = optimize.brentq(g, d - span, d, xtol=1e-15, rtol=1e-14)
    high = optimize.brentq(g, d, d + span, xtol=1e-15, rtol=1e-14)
    p = p_value(d, margin, se, n, rho)
    worse = p if d > margin else 1.0
    noninf = p if d < margin else 1.0
    verdict = 'failed' if worse < alpha else 'successful' if noninf < alpha else 'inconclusive'
    return {"difference": d, "standardError": se, "differenceCi": [low, high], "pValueWorse": worse,
            "pValueNonInferior": noninf, "verdict": verdict}


proportion_cases = [
    ("demo v3: 7 errors in 22 canary requests vs 4 in 418 stable", (4, 418), (7, 22), 0.05, 0.01, 5000),
    ("A/A at 1 %: 12 / 1200 vs 228 / 22800", (228, 22800), (12, 1200), 0.05, 0.01, 5000),
    ("+3 points at 5 % traffic: 40 / 1000 vs 190 / 19000", (190, 19000), (40, 1000), 0.05, 0.01, 5000),
    ("no errors anywhere yet: 0 / 300 vs 0 / 5700", (0, 5700), (0, 300), 0.05, 0.01, 5000),
    ("shown non-inferior: 100 / 10000 vs 1000 / 100000, margin 1 point", (1000, 100000), (100, 10000), 0.05, 0.01, 5000),
    ("alpha 0.01, tuning 1000: 30 / 400 vs 40 / 4000", (40, 4000), (30, 400), 0.01, 0.01, 1000),
    ("margin 0: 25 / 500 vs 200 / 5000", (200, 5000), (25, 500), 0.05, 0.0, 5000),
]

latency_cases = []
rng = np.random.default_rng(20261201)
baseline_a = np.round(rng.lognormal(math.log(20), 0.3, 2000), 3)
candidate_a = np.round(rng.lognormal(math.log(20), 0.3, 300), 3)
candidate_slow = np.round(rng.lognormal(math.log(30), 0.3, 300), 3)
fast_baseline = np.round(rng.lognormal(math.log(0.4), 0.2, 2000), 4)
fast_candidate = np.round(rng.lognormal(math.log(0.6), 0.2, 300), 4)
latency_inputs = [
    ("same distribution, 2000 vs 300 requests, p95, ratio 1.2", baseline_a, candidate_a, 0.95, 1.2, 1.0, 0.05, 5000),
    ("candidate 1.5x slower, p95, ratio 1.2", baseline_a, candidate_slow, 0.95, 1.2, 1.0, 0.05, 5000),
    ("candidate 1.5x slower but only 30 requests yet", baseline_a, candidate_slow[:30], 0.95, 1.2, 1.0, 0.05, 5000),
    ("candidate 1.5x slower, p99, ratio 1.1, tuning 500", baseline_a, candidate_slow, 0.99, 1.1, 1.0, 0.05, 500),
    ("sub-millisecond: 0.6 ms vs 0.4 ms, floor 1 ms", fast_baseline, fast_candidate, 0.95, 1.2, 1.0, 0.05, 5000),
    ("sub-millisecond without a floor", fast_baseline, fast_candidate, 0.95, 1.2, 0.0, 0.05, 5000),
]
for name, b, c, q, ratio, floor, alpha, tuning in latency_inputs:
    t = float(np.quantile(b, q, method='inverted_cdf'))
    limit = max(t * ratio, t + floor)
    bs, cs = int(np.sum(b > t)), int(np.sum(c > limit))
    r = non_inferiority((bs, len(b)), (cs, len(c)), alpha, 0.0, tuning)
    r.update({"baselineQuantileMs": t, "candidateQuantileMs": float(np.quantile(c, q, method='inverted_cdf')),
              "limitMs": limit, "baselineSlower": bs, "candidateSlower": cs})
    latency_cases.append({"name": name, "baseline": b.tolist(), "candidate": c.tolist(),
                          "options": {"quantile": q, "maxLatencyRatio": ratio, "minLatencyDifferenceMs": floor,
                                      "alpha": alpha, "tuning": tuning}, "expected": r})

out = {
    "specVersion": 1,
    "source": f"Python {sys.version.split()[0]}, NumPy {np.__version__}, SciPy {scipy.__version__}",
    "generator": "test/stats/generate-evidence-reference.py",
    "proportions": [
        {"name": name, "baseline": {"successes": b[0], "trials": b[1]}, "candidate": {"successes": c[0], "trials": c[1]},
         "options": {"alpha": alpha, "margin": margin, "tuning": tuning},
         "expected": non_inferiority(b, c, alpha, margin, tuning)}
        for name, b, c, alpha, margin, tuning in proportion_cases
    ],
    "latency": latency_cases,
}
with open('test/fixtures/evidence-reference.json', 'w') as f:
    json.dump(out, f, indent=1)
    f.write('\n')
