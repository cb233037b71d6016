"""Reference fits for the model tests: the CDNOW summaries shipped with the `lifetimes`
package (PyPI), fitted by lifetimes' BG/NBD and Gamma-Gamma. Prints JSON on stdout:
the summaries (weeks), the parameters, and P(alive) for the first members."""
import json

from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.datasets import load_cdnow_summary, load_cdnow_summary_data_with_monetary_value

d = load_cdnow_summary(index_col=[0])
bgf = BetaGeoFitter().fit(d["frequency"], d["recency"], d["T"])
alive = bgf.conditional_probability_alive(d["frequency"], d["recency"], d["T"])
expected = {
    str(t): [float(e) for e in bgf.conditional_expected_number_of_purchases_up_to_time(
        t, d["frequency"], d["recency"], d["T"])[:50]]
    for t in (4.0, 13.0, 52.0)
}
m = load_cdnow_summary_data_with_monetary_value()
m = m[m["frequency"] > 0]
ggf = GammaGammaFitter().fit(m["frequency"], m["monetary_value"])
print(json.dumps({
    "bgnbd": {
        "members": [[float(f), float(r), float(t)] for f, r, t in zip(d["frequency"], d["recency"], d["T"])],
        "params": [bgf.params_[k] for k in ("r", "alpha", "a", "b")],
        "p_alive": [float(p) for p in alive[:50]],
        "expected": expected,
    },
    "gamma_gamma": {
        "members": [[float(f), float(v)] for f, v in zip(m["frequency"], m["monetary_value"])],
        "params": [ggf.params_[k] for k in ("p", "q", "v")],
        "spend": [float(e) for e in ggf.conditional_expected_average_profit(m["frequency"], m["monetary_value"])[:50]],
    },
}))
