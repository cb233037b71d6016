//! The predictive model: the fits behind the member scores (parameters with standard
//! errors, log-likelihood) and the holdout check drawn as a chart — purchases the model
//! expected in the held-out days beside those that happened, per repeat-purchase bucket.
//! The held-out days live in the URL (`/model?days=90`).

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use serde_json::json;

use super::Loading;
use crate::{
    api::{get_holdout, get_model_status},
    chart::Chart,
    error_template::ErrorTemplate,
    format,
    i18n::{Lang, t, tr, use_lang},
    model::{Holdout, HoldoutQuery, ModelFit, ModelStatus},
};

const HOLDOUT_DAYS: [(u32, &str); 3] = [(30, "model.30_days"), (90, "model.90_days"), (180, "model.180_days")];

#[component]
pub fn ModelPage() -> impl IntoView {
    let query_map = use_query_map();
    let days = move || query_map.with(|q| q.get("days").and_then(|d| d.parse::<u32>().ok()).unwrap_or(90));
    let status = Resource::new(|| (), |_| get_model_status());
    let holdout = Resource::new(days, |days| get_holdout(HoldoutQuery { as_of: None, days: Some(days) }));
    let navigate = use_navigate();
    let lang = use_lang();

    view! {
        <section class="model">
            <h1 class="page-title">{tr("model.title")}</h1>
            <Transition fallback=Loading>
                <ErrorBoundary fallback=|errors| view! { <ErrorTemplate errors=errors/> }>
                    {move || {
                        lang.track();
                        Suspend::new(async move { status.await.map(|s| view! { <Fits status=s/> }) })
                    }}
                </ErrorBoundary>
            </Transition>
            <h2 class="section-title">{tr("holdout")}</h2>
            <div class="toolbar" role="group" aria-label=tr("holdout.days")>
                <label>
                    {tr("holdout.days")}
                    <select
                        id="holdout-days"
                        prop:value=move || days().to_string()
                        on:change=move |ev| {
                            navigate(&format!("/model?days={}", event_target_value(&ev)), Default::default())
                        }
                    >
                        {HOLDOUT_DAYS
                            .iter()
                            .map(|(d, label)| view! { <option value=d.to_string()>{move || t(lang.get(), label).to_string()}</option> })
                            .collect_view()}
                    </select>
                </label>
            </div>
            <Transition fallback=|| view! { <p class="loading" role="status">{tr("fitting")}</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorTemplate errors=errors/> }>
                    {move || {
                        lang.track();
                        Suspend::new(async move { holdout.await.map(|h| view! { <HoldoutView holdout=h/> }) })
                    }}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}

#[component]
fn Fits(status: ModelStatus) -> impl IntoView {
    let lang = use_lang().get_untracked();
    let summary = match &status.scores_as_of {
        Some(as_of) => format!(
            "{} {as_of}: {} {}",
            t(lang, "model.scores_as_of"),
            format::count(status.scored_members as f64),
            t(lang, "members.total")
        ),
        None => t(lang, "model.not_fitted_yet").to_string(),
    };
    let settings = format!(
        "{} {} · {} {}",
        t(lang, "model.annual_discount"),
        format::percent(status.annual_discount),
        t(lang, "model.at_risk_below_p_alive"),
        status.at_risk_p_alive
    );
    view! {
        <p class="model-summary" data-scores-as-of=status.scores_as_of.clone().unwrap_or_default()>
            {summary}
            {status.fitting.then(|| view! { <span class="badge">{t(lang, "model.refitting")}</span> })}
        </p>
        <p class="model-settings">{settings}</p>
        {status.last_error.map(|e| view! {
            <p class="notice" role="status">{t(lang, "model.last_refit_failed")} ": " {e}</p>
        })}
        <div class="fits">
            {status.fits.into_iter().map(|f| view! { <FitTable fit=f/> }).collect_view()}
        </div>
    }
}

#[component]
fn FitTable(fit: ModelFit) -> impl IntoView {
    let lang = use_lang().get_untracked();
    let title = match fit.model.as_str() {
        "bgnbd" => t(lang, "model.bg_nbd_purchases_and_dropout"),
        _ => t(lang, "model.gamma_gamma_spend_per_purchase"),
    };
    let caption = format!(
        "{title} — T = {}, {} {}, LL {:.1}, {} iterations",
        fit.as_of,
        format::count(fit.members as f64),
        t(lang, "members.total"),
        fit.log_likelihood,
        fit.iterations
    );
    let rows = fit
        .names
        .iter()
        .zip(fit.params.iter().zip(&fit.std_errors))
        .map(|(n, (p, se))| {
            view! {
                <tr>
                    <th scope="row">{n.clone()}</th>
                    <td class="num">{format!("{p:.4}")}</td>
                    <td class="num">{format!("± {se:.4}")}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="data fit" data-model=fit.model.clone()>
            <caption>{caption}</caption>
            <thead>
                <tr>
                    <th scope="col">{t(lang, "model.parameter")}</th>
                    <th scope="col">{t(lang, "model.estimate")}</th>
                    <th scope="col">{t(lang, "model.std_error")}</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// The holdout as an ECharts option: actual and predicted bars per bucket.
fn holdout_chart(h: &Holdout, lang: Lang) -> serde_json::Value {
    let (actual_name, predicted_name) = (t(lang, "model.actual"), t(lang, "model.predicted"));
    let names: Vec<&str> = h.buckets.iter().map(|b| b.frequency.as_str()).collect();
    // A bucket withheld from executives (too few members) is a gap in the chart.
    let actual: Vec<Option<f64>> = h.buckets.iter().map(|b| b.actual).collect();
    let predicted: Vec<Option<f64>> =
        h.buckets.iter().map(|b| b.predicted.map(|p| (p * 10.0).round() / 10.0)).collect();
    json!({
        "animation": false,
        "tooltip": { "trigger": "axis" },
        "legend": { "data": [actual_name, predicted_name], "top": 4, "right": 16 },
        "grid": { "left": 64, "right": 16, "top": 48, "bottom": 48 },
        "xAxis": { "type": "category", "data": names, "name": t(lang, "model.repeat_purchases_before"), "nameLocation": "middle", "nameGap": 30 },
        "yAxis": { "type": "value", "name": t(lang, "model.purchase_days") },
        "series": [
            { "name": actual_name, "type": "bar", "data": actual, "itemStyle": { "color": "#4c6ef5" } },
            { "name": predicted_name, "type": "bar", "data": predicted, "itemStyle": { "color": "#f59f00" } }
        ]
    })
}

#[component]
fn HoldoutView(holdout: Holdout) -> impl IntoView {
    let lang = use_lang().get_untracked();
    let option = holdout_chart(&holdout, lang);
    let caption = format!(
        "{} {} → {} {} ({} {})",
        t(lang, "model.fitted_to"),
        holdout.calibration_end,
        t(lang, "model.predicting_to"),
        holdout.as_of,
        holdout.days,
        t(lang, "model.days")
    );
    let off = |actual: Option<f64>, predicted: Option<f64>| match (actual, predicted) {
        (Some(a), Some(p)) if a != 0.0 => format!("{:+.1}%", (p - a) / a * 100.0),
        _ => "—".to_string(),
    };
    let dash = || "—".to_string();
    let rows = holdout
        .buckets
        .iter()
        .chain(std::iter::once(&holdout.total))
        .map(|b| {
            view! {
                <tr data-bucket=b.frequency.clone()>
                    <th scope="row">{b.frequency.clone()}</th>
                    <td class="num">{b.members.map_or_else(dash, |m| format::count(m as f64))}</td>
                    <td class="num actual">{b.actual.map_or_else(dash, format::count)}</td>
                    <td class="num predicted">{b.predicted.map_or_else(dash, |p| format!("{p:.1}"))}</td>
                    <td class="num">{off(b.actual, b.predicted)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="window-caption">{caption}</p>
        <Chart id="holdout-chart" option=Signal::stored(option) label=t(lang, "model.holdout_actual_vs_predicted_purchases")/>
        <table class="data holdout">
            <thead>
                <tr>
                    <th scope="col">{t(lang, "model.repeat_purchases")}</th>
                    <th scope="col">{t(lang, "model.members")}</th>
                    <th scope="col">{t(lang, "model.actual")}</th>
                    <th scope="col">{t(lang, "model.predicted")}</th>
                    <th scope="col">{t(lang, "model.off_by")}</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
