//! Terminal output of `memberpulse metrics` and `bench-model`: small tables, or JSON.

use std::path::PathBuf;

use app::{
    format,
    model::{Breakdown, Overview},
};

use crate::{Result, service::Services};

/// The overview as a small table for the terminal.
pub(super) fn format_overview(o: &Overview) -> String {
    let mut out = format!(
        "as of {} · window {} – {} · compared with {} – {}\n",
        o.as_of, o.window.start, o.window.end, o.comparison_window.start, o.comparison_window.end
    );
    for k in &o.kpis {
        out.push_str(&format!(
            "  {:<28} {:>16}   (was {:>16})\n",
            k.key.name().en,
            format::measure(k.unit, &k.current),
            format::measure(k.unit, &k.comparison)
        ));
    }
    out
}

/// A breakdown as a small table for the terminal.
pub(super) fn format_breakdown(b: &Breakdown) -> String {
    let mut out = format!(
        "{} by {} · window {} – {} · compared with {} – {}\n",
        b.metric.name().en,
        b.dimension.name().en,
        b.window.start,
        b.window.end,
        b.comparison_window.start,
        b.comparison_window.end
    );
    for r in b.rows.iter().chain(std::iter::once(&b.total)) {
        out.push_str(&format!(
            "  {:<28} {:>16}   (was {:>16})\n",
            r.value,
            format::measure(b.unit, &r.current),
            format::measure(b.unit, &r.comparison)
        ));
    }
    out
}

/// Prints a result as JSON or as the terminal table `text` makes of it.
pub(super) fn show<T: serde::Serialize>(json: bool, value: &T, text: fn(&T) -> String) {
    if json {
        println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
    } else {
        print!("{}", text(value));
    }
}

/// `memberpulse bench-model`: the stages of a fit on this data, and `lifetimes` on the same
/// summary for the ratio.
pub(super) async fn bench_model(services: &Services, as_of: Option<String>, python: Option<PathBuf>) -> Result<()> {
    let discount = services.metrics.annual_discount;
    let (t, times) = services
        .analytics
        .read(move |conn| {
            let t = crate::metrics::day_or_latest(conn, "as_of", as_of.as_deref())?;
            Ok((t, crate::metrics::reference::model(conn, t, discount)?))
        })
        .await?;
    println!("as of {t}: {} members with a purchase", times.buyers);
    println!("  summary from DuckDB  {:>7.2} s", times.summary_s);
    println!("  BG/NBD fit           {:>7.2} s ({} iterations)", times.bgnbd_s, times.bgnbd.iterations);
    println!("  Gamma-Gamma fit      {:>7.2} s ({} iterations)", times.gamma_gamma_s, times.gamma_gamma.iterations);
    println!("  scoring every buyer  {:>7.2} s", times.scoring_s);
    println!("  fit + scoring        {:>7.2} s", times.total_s());
    let Some(python) = python else {
        return Ok(());
    };
    let csv = std::env::temp_dir().join(format!("memberpulse-summary-{}.csv", std::process::id()));
    crate::metrics::reference::write_lifetimes_csv(&times.summaries, &csv)?;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/lifetimes_bench.py");
    println!("running lifetimes on the same summary ({})…", python.display());
    let out = std::process::Command::new(&python).arg(&script).arg(&csv).arg(discount.to_string()).output();
    let _ = std::fs::remove_file(&csv);
    let out = out?;
    if !out.status.success() {
        return Err(crate::Error::Internal(format!("lifetimes failed: {}", String::from_utf8_lossy(&out.stderr))));
    }
    let theirs: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| crate::Error::Internal(format!("lifetimes printed no JSON: {e}")))?;
    let secs = |k: &str| theirs[k].as_f64().unwrap_or(f64::NAN);
    let lifetimes_total = secs("bgnbd_s") + secs("gamma_gamma_s") + secs("scoring_s");
    println!("  lifetimes BG/NBD fit      {:>8.2} s", secs("bgnbd_s"));
    println!("  lifetimes Gamma-Gamma fit {:>8.2} s", secs("gamma_gamma_s"));
    println!("  lifetimes scoring         {:>8.2} s", secs("scoring_s"));
    println!(
        "fit + scoring: MemberPulse {:.2} s (summary included), lifetimes {:.2} s (summary given): {:.1}× faster",
        times.total_s(),
        lifetimes_total,
        lifetimes_total / times.total_s()
    );
    for (name, ours, key) in [("BG/NBD", &times.bgnbd, "bgnbd"), ("Gamma-Gamma", &times.gamma_gamma, "gamma_gamma")] {
        let theirs: Vec<f64> =
            theirs[key].as_array().map(|a| a.iter().filter_map(|v| v.as_f64()).collect()).unwrap_or_default();
        let worst = ours.params.iter().zip(&theirs).map(|(a, b)| ((a - b) / b).abs()).fold(0.0, f64::max);
        println!(
            "  {name}: ours {:?}, lifetimes {:?}: largest relative difference {worst:.1e}",
            ours.params.iter().map(|p| (p * 1e4).round() / 1e4).collect::<Vec<_>>(),
            theirs.iter().map(|p| (p * 1e4).round() / 1e4).collect::<Vec<_>>()
        );
    }
    Ok(())
}
