//! The campaign readout's statistics (issue 24, `server::campaigns::stats`) against SciPy
//! (`scripts/readout_reference.py`, in the venv `make test` makes): the difference of two
//! rates with its interval, z and p; Welch's t-test of revenue per member with its
//! interval, t, degrees of freedom and p; the sample ratio check. And on simulated
//! campaigns with a known true lift, the 95% interval covers it about 95% of the time.

use rand::{Rng, SeedableRng};
use serde_json::Value;
use server::campaigns::stats::{Rate, Sums, means, rates, sample_ratio};

fn reference() -> Value {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join("target/pyenv/bin/python");
    assert!(python.exists(), "{} is missing: run scripts/setup.sh --test (make test does)", python.display());
    let out = std::process::Command::new(python).arg(root.join("scripts/readout_reference.py")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn close(ours: f64, theirs: &Value, what: &str) {
    let theirs = theirs.as_f64().unwrap();
    let scale = theirs.abs().max(1e-12);
    assert!((ours - theirs).abs() / scale < 1e-7, "{what}: ours {ours}, SciPy {theirs}");
}

#[test]
fn readout_statistics_equal_scipy() {
    let v = reference();
    for r in v["rates"].as_array().unwrap() {
        let i: Vec<u64> = r["input"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
        let u = rates(Rate { members: i[0], conversions: i[1] }, Rate { members: i[2], conversions: i[3] }).unwrap();
        close(u.difference, &r["difference"], "difference");
        close(u.ci_low, &r["ci"][0], "ci low");
        close(u.ci_high, &r["ci"][1], "ci high");
        close(u.statistic, &r["z"], "z");
        close(u.p_value, &r["p"], "p");
    }
    for m in v["means"].as_array().unwrap() {
        let values = |k: &str| -> Vec<f64> { m[k].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect() };
        let u = means(Sums::of(&values("treatment")), Sums::of(&values("control"))).unwrap();
        close(u.difference, &m["difference"], "mean difference");
        close(u.ci_low, &m["ci"][0], "welch ci low");
        close(u.ci_high, &m["ci"][1], "welch ci high");
        close(u.statistic, &m["t"], "t");
        close(u.df.unwrap(), &m["df"], "df");
        close(u.p_value, &m["p"], "welch p");
    }
    let mut mismatches = Vec::new();
    for s in v["srm"].as_array().unwrap() {
        let i = s["input"].as_array().unwrap();
        let r = sample_ratio(i[0].as_u64().unwrap(), i[1].as_u64().unwrap(), i[2].as_f64().unwrap()).unwrap();
        if s["chi_square"].as_f64().unwrap() > 0.0 {
            close(r.chi_square, &s["chi_square"], "chi square");
        }
        close(r.p_value, &s["p"], "srm p");
        mismatches.push(r.mismatch);
    }
    assert_eq!(mismatches, [false, true, false], "9,100 against 900 for a 10% control is broken");
}

/// 400 simulated campaigns (seeded): 3,000 treated and 1,000 control members, a true
/// reactivation rate of 10% lifted by 3 points, and revenue per member with a true
/// difference of ¥5. The 95% intervals cover the truth 95% ± 2.5% of the time.
#[test]
fn intervals_cover_a_known_lift() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2024);
    let (runs, mut rate_hits, mut mean_hits) = (400, 0, 0);
    for _ in 0..runs {
        let arm = |rng: &mut rand_chacha::ChaCha8Rng, n: u64, p: f64, spend: f64| {
            let mut conversions = 0;
            let mut values = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let converted = rng.r#gen::<f64>() < p;
                conversions += u64::from(converted);
                // Revenue: exponential around `spend` for everyone (a skewed amount).
                values.push(-spend * (1.0 - rng.r#gen::<f64>()).ln());
            }
            (Rate { members: n, conversions }, Sums::of(&values))
        };
        let (rt, st) = arm(&mut rng, 3000, 0.13, 45.0);
        let (rc, sc) = arm(&mut rng, 1000, 0.10, 40.0);
        let r = rates(rt, rc).unwrap();
        rate_hits += u32::from(r.ci_low <= 0.03 && 0.03 <= r.ci_high);
        let m = means(st, sc).unwrap();
        mean_hits += u32::from(m.ci_low <= 5.0 && 5.0 <= m.ci_high);
    }
    for (what, hits) in [("rate", rate_hits), ("revenue", mean_hits)] {
        let coverage = f64::from(hits) / f64::from(runs);
        assert!((0.925..=0.975).contains(&coverage), "{what} interval covered the true lift {coverage:.3} of the time");
    }
}
