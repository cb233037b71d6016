"""SciPy's figures for the campaign readout's tests (server/tests/it/readout.rs): for each
fixture, the inputs and what scipy.stats says of them, as JSON on stdout. Runs in the
venv `scripts/setup.sh --test` makes (target/pyenv, which has SciPy through lifetimes)."""

import json

import numpy as np
from scipy import stats

Z = stats.norm.ppf(0.975)


def rates(nt, ct, nc, cc):
    pt, pc = ct / nt, cc / nc
    pooled = (ct + cc) / (nt + nc)
    se_pooled = np.sqrt(pooled * (1 - pooled) * (1 / nt + 1 / nc))
    se = np.sqrt(pt * (1 - pt) / nt + pc * (1 - pc) / nc)
    z = (pt - pc) / se_pooled
    return {
        "input": [nt, ct, nc, cc],
        "difference": pt - pc,
        "ci": [pt - pc - Z * se, pt - pc + Z * se],
        "z": z,
        "p": 2 * stats.norm.sf(abs(z)),
    }


def means(t, c):
    test = stats.ttest_ind(t, c, equal_var=False)
    vt, vc = np.var(t, ddof=1) / len(t), np.var(c, ddof=1) / len(c)
    df = (vt + vc) ** 2 / (vt**2 / (len(t) - 1) + vc**2 / (len(c) - 1))
    q = stats.t.ppf(0.975, df)
    d = np.mean(t) - np.mean(c)
    se = np.sqrt(vt + vc)
    return {
        "treatment": [float(x) for x in t],
        "control": [float(x) for x in c],
        "difference": d,
        "ci": [d - q * se, d + q * se],
        "t": float(test.statistic),
        "df": df,
        "p": float(test.pvalue),
    }


def srm(nt, nc, share):
    n = nt + nc
    chi = stats.chisquare([nc, nt], [n * share, n * (1 - share)])
    return {"input": [nt, nc, share], "chi_square": float(chi.statistic), "p": float(chi.pvalue)}


rng = np.random.default_rng(24)
out = {
    "rates": [rates(*r) for r in [(1000, 120, 1000, 90), (4500, 612, 500, 55), (250, 3, 240, 9), (20000, 2100, 2000, 205)]],
    "means": [
        # Revenue per member: most spend nothing, the rest a skewed amount.
        means(
            np.round(rng.binomial(1, 0.3, 800) * rng.lognormal(4.0, 1.0, 800), 2),
            np.round(rng.binomial(1, 0.25, 200) * rng.lognormal(4.0, 1.0, 200), 2),
        ),
        means(np.round(rng.normal(100, 15, 50), 2), np.round(rng.normal(95, 30, 40), 2)),
    ],
    "srm": [srm(*s) for s in [(9000, 1000, 0.1), (9100, 900, 0.1), (5060, 4940, 0.5)]],
}
print(json.dumps(out))
