"""`memberpulse bench-model --python …` runs this on the summary it wrote: times the
Python package `lifetimes` (PyPI) fitting BG/NBD and Gamma-Gamma and scoring every member
(P(alive), expected purchases in 30/90/365 days, expected spend, 12-month CLV) on the same
summary. Prints JSON: seconds per stage and the fitted parameters.

    python scripts/lifetimes_bench.py summary.csv ANNUAL_DISCOUNT
"""
import json
import sys
import time

import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter

d = pd.read_csv(sys.argv[1])
annual = float(sys.argv[2]) if len(sys.argv) > 2 else 0.1
f, r, t, m = d["frequency"], d["recency"], d["T"], d["monetary_value"]

started = time.perf_counter()
bgf = BetaGeoFitter().fit(f, r, t)
bgnbd_s = time.perf_counter() - started

started = time.perf_counter()
repeat = d[(f > 0) & (m > 0)]
ggf = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
gamma_gamma_s = time.perf_counter() - started

started = time.perf_counter()
alive = bgf.conditional_probability_alive(f, r, t)
expected = [bgf.conditional_expected_number_of_purchases_up_to_time(h, f, r, t) for h in (30, 90, 365)]
spend = ggf.conditional_expected_average_profit(f, m)
monthly = (1 + annual) ** (1 / 12) - 1
clv = ggf.customer_lifetime_value(bgf, f, r, t, m, time=12, discount_rate=monthly, freq="D")
scoring_s = time.perf_counter() - started

print(json.dumps({
    "members": len(d),
    "bgnbd_s": bgnbd_s,
    "gamma_gamma_s": gamma_gamma_s,
    "scoring_s": scoring_s,
    "bgnbd": [bgf.params_[k] for k in ("r", "alpha", "a", "b")],
    "gamma_gamma": [ggf.params_[k] for k in ("p", "q", "v")],
    "mean_p_alive": float(alive.mean()),
    "mean_clv": float(clv.mean()),
}))
