//! The Overview: the four headline KPIs for a window ending at T, each beside its
//! comparison window. Every control writes the URL, so a link reproduces the view.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::{
    api::get_overview,
    error_template::ErrorTemplate,
    format,
    model::{Kpi, Metric, Overview, OverviewQuery},
};

const WINDOWS: [(&str, &str); 4] = [
    ("7d", "近7天 · 7 days"),
    ("30d", "近30天 · 30 days"),
    ("90d", "近90天 · 90 days"),
    ("365d", "近365天 · 365 days"),
];

#[component]
pub fn OverviewPage() -> impl IntoView {
    let query_map = use_query_map();
    let query = move || {
        query_map.with(|q| OverviewQuery {
            as_of: q.get("as_of").filter(|s| !s.is_empty()),
            window: q.get("window").filter(|s| !s.is_empty()),
            compare: q.get("compare").filter(|s| !s.is_empty()),
            filters: q.get("filters").filter(|s| !s.is_empty()),
            segment: q.get("segment").filter(|s| !s.is_empty()),
        })
    };
    let overview = Resource::new(query, get_overview);

    let navigate = use_navigate();
    let set_param = move |name: &'static str, value: String| {
        let mut q = query();
        match name {
            "as_of" => q.as_of = Some(value),
            "window" => q.window = Some(value),
            _ => q.compare = Some(value),
        }
        navigate(&overview_url(&q), Default::default());
    };
    let set_window = set_param.clone();
    let set_as_of = set_param.clone();
    let set_compare = set_param;

    view! {
        <section class="overview">
            <div class="toolbar" role="group" aria-label="时间窗口 · Window">
                <label>
                    "截止日期 · As of "
                    <input
                        type="date"
                        id="as-of"
                        prop:value=move || {
                            query().as_of.or_else(|| overview.get().and_then(|o| o.ok()).map(|o| o.as_of)).unwrap_or_default()
                        }
                        on:change=move |ev| set_as_of("as_of", event_target_value(&ev))
                    />
                </label>
                <label>
                    "窗口 · Window "
                    <select
                        id="window"
                        prop:value=move || query().window.unwrap_or_else(|| "30d".into())
                        on:change=move |ev| set_window("window", event_target_value(&ev))
                    >
                        {WINDOWS
                            .iter()
                            .map(|(v, label)| view! { <option value=*v>{*label}</option> })
                            .collect_view()}
                    </select>
                </label>
                <label>
                    "对比 · Compare with "
                    <select
                        id="compare"
                        prop:value=move || query().compare.unwrap_or_else(|| "previous".into())
                        on:change=move |ev| set_compare("compare", event_target_value(&ev))
                    >
                        <option value="previous">"上一窗口 · Previous window"</option>
                        <option value="year">"去年同期 · Year earlier"</option>
                    </select>
                </label>
            </div>
            <Transition fallback=|| view! { <p class="loading">"加载中… · Loading…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorTemplate errors=errors.into()/> }>
                    {move || Suspend::new(async move {
                        overview.await.map(|o| view! { <KpiGrid overview=o/> })
                    })}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}

fn overview_url(q: &OverviewQuery) -> String {
    let mut parts = Vec::new();
    for (name, value) in [
        ("as_of", &q.as_of),
        ("window", &q.window),
        ("compare", &q.compare),
        ("filters", &q.filters),
        ("segment", &q.segment),
    ] {
        if let Some(v) = value {
            parts.push(format!("{name}={}", crate::format::url_encode(v)));
        }
    }
    format!("/?{}", parts.join("&"))
}

#[component]
fn KpiGrid(overview: Overview) -> impl IntoView {
    let caption = format!(
        "{} – {}  对比 · vs  {} – {}",
        overview.window.start,
        overview.window.end,
        overview.comparison_window.start,
        overview.comparison_window.end
    );
    let (headline, more): (Vec<Kpi>, Vec<Kpi>) = overview
        .kpis
        .into_iter()
        .partition(|k| Metric::HEADLINE.contains(&k.key));
    view! {
        <p class="window-caption" data-window-start=overview.window.start.clone() data-window-end=overview.window.end.clone()>
            {caption}
        </p>
        <div class="kpi-grid headline">
            {headline.into_iter().map(|k| view! { <KpiCard kpi=k/> }).collect_view()}
        </div>
        <h2 class="section-title">"更多指标 · More metrics"</h2>
        <div class="kpi-grid more">
            {more.into_iter().map(|k| view! { <KpiCard kpi=k/> }).collect_view()}
        </div>
    }
}

#[component]
fn KpiCard(kpi: Kpi) -> impl IntoView {
    let value = format::measure(kpi.unit, &kpi.current);
    let previous = format::measure(kpi.unit, &kpi.comparison);
    let (trend_class, change) = match format::change(kpi.unit, &kpi.current, &kpi.comparison) {
        Some((delta, text)) => {
            let good = (delta > 0.0) == kpi.key.higher_is_better();
            let class = if delta == 0.0 {
                "change flat"
            } else if good {
                "change good"
            } else {
                "change bad"
            };
            (class, text)
        }
        None => ("change flat", "—".to_string()),
    };
    let title = kpi.current.reason.clone().unwrap_or_default();
    view! {
        <article class="kpi" data-kpi=kpi.key.key() title=title>
            <h3 class="kpi-label">
                <span class="zh">{kpi.key.label_zh()}</span>
                <span class="en">{kpi.key.label_en()}</span>
            </h3>
            <p class="kpi-value">{value}</p>
            <p class="kpi-compare">
                <span class="kpi-previous">{previous}</span>
                " "
                <span class=trend_class>{change}</span>
            </p>
        </article>
    }
}
