//! BG/NBD and Gamma-Gamma: analytic gradients against finite differences, and parameter
//! recovery on data simulated from known parameters (within four standard errors).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Exp, Gamma};
use server::clv::{self, Summary};

/// Members simulated from BG/NBD (r, α, a, b) and Gamma-Gamma (p, q, γ), ages in weeks.
fn simulate(n: usize, bg: [f64; 4], gg: [f64; 3], seed: u64) -> Vec<Summary> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let rate = Gamma::new(bg[0], 1.0 / bg[1]).unwrap();
    let dropout = Beta::new(bg[2], bg[3]).unwrap();
    let nu = Gamma::new(gg[1], 1.0 / gg[2]).unwrap();
    (0..n)
        .map(|_| {
            let (lambda, p) = (rate.sample(&mut rng), dropout.sample(&mut rng));
            let t = rng.gen_range(20.0..60.0);
            let gap = Exp::new(lambda).unwrap();
            let (mut now, mut x, mut t_x) = (0.0, 0.0, 0.0);
            loop {
                now += gap.sample(&mut rng);
                if now >= t {
                    break;
                }
                x += 1.0;
                t_x = now;
                if rng.r#gen::<f64>() < p {
                    break;
                }
            }
            let m = if x > 0.0 {
                let spend = Gamma::new(gg[0], 1.0 / nu.sample(&mut rng)).unwrap();
                (0..x as usize).map(|_| spend.sample(&mut rng)).sum::<f64>() / x
            } else {
                0.0
            };
            Summary { x, t_x, t, m }
        })
        .collect()
}

const BG: [f64; 4] = [0.243, 4.414, 0.793, 2.426];
const GG: [f64; 3] = [6.25, 3.74, 15.44];

#[test]
fn bgnbd_recovers_its_parameters() {
    let mut fit = None;
    for seed in [7, 8, 9] {
        let members = simulate(30_000, BG, GG, seed);
        let f = clv::fit_bgnbd(&members).unwrap();
        for i in 0..4 {
            let (est, se) = (f.params[i], f.std_errors[i]);
            assert!(se > 0.0 && se < BG[i], "{i}: se {se}");
            assert!((est - BG[i]).abs() < 4.0 * se, "seed {seed} param {i}: {est} vs {} (se {se})", BG[i]);
        }
        fit = Some(f);
    }
    let fit = fit.unwrap();
    // A member who bought often and long ago is less likely alive than one who just bought.
    let early = Summary { x: 5.0, t_x: 5.0, t: 50.0, m: 0.0 };
    let recent = Summary { x: 5.0, t_x: 49.0, t: 50.0, m: 0.0 };
    assert!(clv::p_alive(&fit, &early) < 0.2);
    assert!(clv::p_alive(&fit, &recent) > 0.8);
}

#[test]
fn gamma_gamma_recovers_its_parameters() {
    for seed in [7, 8, 9] {
        let members = simulate(30_000, BG, GG, seed);
        let fit = clv::fit_gamma_gamma(&members).unwrap();
        for i in 0..3 {
            let (est, se) = (fit.params[i], fit.std_errors[i]);
            assert!((est - GG[i]).abs() < 4.0 * se, "seed {seed} param {i}: {est} vs {} (se {se})", GG[i]);
        }
    }
}

#[test]
fn too_little_data_is_refused_with_a_reason() {
    let members = simulate(50, BG, GG, 9);
    let e = clv::fit_bgnbd(&members).unwrap_err().to_string();
    assert!(e.contains("too little data"), "{e}");
}

#[test]
#[ignore = "prints the fits; run with --ignored --nocapture"]
fn print_fits() {
    let members = simulate(30_000, BG, GG, 7);
    println!("{:?}", clv::fit_bgnbd(&members).unwrap());
    println!("{:?}", clv::fit_gamma_gamma(&members).unwrap());
}
