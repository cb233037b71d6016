//! The executive overview: the four headline KPIs (rendered on the server, so the page is
//! useful before anything else arrives), each with its change and a sparkline; then,
//! fetched by the browser, the trend, lifecycle, tier and channel mix, points, cohort
//! retention and the rest of the catalogue. Every number and chart element links to its
//! breakdown or member list; every control writes the URL.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use super::{FilterChips, Loading, Toolbar, View, use_param, use_view};
use crate::{
    api::{get_breakdown, get_cohorts, get_overview, get_trend},
    chart::{Chart, ChartClick, options},
    error_template::ErrorTemplate,
    format,
    i18n::{Lang, t, tr, use_lang, value_label, value_of},
    model::{Dimension, Kpi, Metric, OverviewPanels, OverviewQuery, Trend, Unit},
};

/// The panels' requests for the view (the same the server computes ahead for the default
/// view).
fn panels(v: &View) -> OverviewPanels {
    OverviewPanels::of(&OverviewQuery {
        as_of: v.as_of.clone(),
        window: v.window.clone(),
        compare: v.compare.clone(),
        filters: v.filters.clone(),
        segment: v.segment.clone(),
        metrics: None,
    })
}

/// Where a KPI drills to: its breakdown by region under this view.
fn drill(v: &View, metric: Metric) -> String {
    v.link("/breakdown", &[("metric", Some(metric.key().into())), ("dimension", Some("region".into()))])
}

#[component]
pub fn OverviewPage() -> impl IntoView {
    let view = use_view();
    let headline = Resource::new(move || view.get(), |v| get_overview(panels(&v).headline));
    let trend = LocalResource::new(move || get_trend(panels(&view.get()).trend));
    let resolved = Signal::derive(move || headline.get().and_then(|o| o.ok()).map(|o| o.as_of));
    view! {
        <section class="overview">
            <Toolbar path="/" resolved_as_of=resolved/>
            <FilterChips path="/"/>
            <super::save_segment::SaveSegment/>
            <Transition fallback=Loading>
                <ErrorBoundary fallback=|errors| view! { <ErrorTemplate errors=errors/> }>
                    {move || Suspend::new(async move {
                        headline.await.map(|o| {
                            let lang = use_lang().get_untracked();
                            let caption = format!(
                                "{} – {}  {}  {} – {}",
                                format::date(lang, &o.window.start),
                                format::date(lang, &o.window.end),
                                t(lang, "vs"),
                                format::date(lang, &o.comparison_window.start),
                                format::date(lang, &o.comparison_window.end)
                            );
                            view! {
                                <p class="window-caption" data-window-start=o.window.start.clone() data-window-end=o.window.end.clone()>
                                    {caption}
                                </p>
                                <div class="kpi-grid headline">
                                    {o.kpis.into_iter().map(|k| view! { <KpiCard kpi=k trend=trend/> }).collect_view()}
                                </div>
                            }
                        })
                    })}
                </ErrorBoundary>
            </Transition>
            <div class="panels">
                <super::alerts::FiringPanel/>
                <TrendPanel trend=trend/>
                <MixPanel title="lifecycle" dimension=Dimension::LifecycleStage/>
                <MixPanel title="tier_mix" dimension=Dimension::Tier/>
                <ChannelAndPoints/>
                <CohortPanel/>
            </div>
            <MoreMetrics/>
        </section>
    }
}

#[component]
fn KpiCard(kpi: Kpi, #[prop(optional)] trend: Option<LocalResource<Result<Trend, ServerFnError>>>) -> impl IntoView {
    let lang = use_lang();
    let view = use_view();
    // Shown as a reader of the language expects (万/亿 in Chinese); exactly in `data-exact`
    // and the title.
    let (unit, current, comparison) = (kpi.unit, kpi.current.clone(), kpi.comparison.clone());
    let (exact, exact_previous) = (format::measure(unit, &current), format::measure(unit, &comparison));
    let value = move || format::measure_in(lang.get(), unit, &current);
    let previous = move || format::measure_in(lang.get(), unit, &comparison);
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
    let title = kpi.current.reason.clone().unwrap_or_else(|| exact.clone());
    let key = kpi.key;
    let spark = trend.map(|trend| {
        let option = Signal::derive(move || {
            let values: Vec<Option<f64>> = trend
                .get()
                .and_then(|t| t.ok())
                .and_then(|t| t.series.into_iter().find(|s| s.metric == key))
                .map(|s| s.points.into_iter().map(|p| p.measure.value).collect())
                .unwrap_or_default();
            options::sparkline(&values)
        });
        view! { <div class="sparkline"><Chart option=option label=format!("{} trend", key.key())/></div> }
    });
    view! {
        <a class="kpi" data-kpi=key.key() title=title href=move || drill(&view.get(), key)>
            <h3 class="kpi-label">{move || lang.get().pick(key.name()).to_string()}</h3>
            <p class="kpi-value" data-exact=exact>{value}</p>
            <p class="kpi-compare">
                <span class="kpi-previous" data-exact=exact_previous>{previous}</span>
                " "
                <span class=trend_class>{change}</span>
            </p>
            {spark}
        </a>
    }
}

/// The headline metrics over the last eight windows; a click on a point moves T there.
#[component]
fn TrendPanel(trend: LocalResource<Result<Trend, ServerFnError>>) -> impl IntoView {
    let lang = use_lang();
    let view = use_view();
    let selected = use_param("trend");
    let navigate = use_navigate();
    let option = Signal::derive(move || {
        let Some(Ok(t)) = trend.get() else {
            return serde_json::Value::Null;
        };
        let key = selected.get().and_then(|k| Metric::parse(&k)).unwrap_or(Metric::RepurchaseRate);
        let Some(series) = t.series.iter().find(|s| s.metric == key) else {
            return serde_json::Value::Null;
        };
        let categories: Vec<String> = series.points.iter().map(|p| p.end.clone()).collect();
        let values: Vec<Option<f64>> = series.points.iter().map(|p| p.measure.value).collect();
        let money = matches!(key.unit(), Unit::Money | Unit::Amount) && lang.get() == Lang::Zh;
        options::in_yuan_zh(options::lines(&categories, &[(lang.get().pick(key.name()).to_string(), values)]), money)
    });
    let on_click = Callback::new(move |c: ChartClick| {
        let v = View { as_of: Some(c.name), ..view.get_untracked() };
        navigate(&v.link("/", &[("trend", selected.get_untracked())]), Default::default());
    });
    view! {
        <article class="panel wide">
            <header class="panel-head">
                <h2>{tr("trend")}</h2>
                <nav class="tabs">
                    {Metric::HEADLINE
                        .iter()
                        .map(|&m| {
                            let href = move || view.get().link("/", &[("trend", Some(m.key().to_string()))]);
                            let current = move || {
                                let sel = selected.get().and_then(|k| Metric::parse(&k)).unwrap_or(Metric::RepurchaseRate);
                                (sel == m).then_some("page")
                            };
                            view! { <a href=href aria-current=current>{move || lang.get().pick(m.name()).to_string()}</a> }
                        })
                        .collect_view()}
                </nav>
            </header>
            <Chart id="trend-chart" option=option label=tr("trend")() on_click=on_click/>
        </article>
    }
}

/// Members by a dimension as of T, as a pie; a slice opens its members.
#[component]
fn MixPanel(title: &'static str, dimension: Dimension) -> impl IntoView {
    let view = use_view();
    let lang = use_lang();
    let navigate = use_navigate();
    let data = LocalResource::new(move || {
        let p = panels(&view.get());
        get_breakdown(if dimension == Dimension::Tier { p.tiers } else { p.lifecycle })
    });
    let option = Signal::derive(move || match data.get() {
        Some(Ok(b)) => options::pie(
            &b.rows
                .iter()
                .map(|r| (value_label(lang.get(), dimension, &r.value), r.current.value.unwrap_or(0.0)))
                .collect::<Vec<_>>(),
        ),
        _ => serde_json::Value::Null,
    });
    let on_click = Callback::new(move |c: ChartClick| {
        let value = match data.get_untracked() {
            Some(Ok(b)) => value_of(lang.get_untracked(), dimension, b.rows.iter().map(|r| r.value.as_str()), &c.name),
            _ => c.name.clone(),
        };
        let v = view.get_untracked().with_filter(dimension.key(), &value);
        navigate(&v.link("/members", &[]), Default::default());
    });
    let id = format!("{}-chart", dimension.key());
    view! {
        <article class="panel">
            <header class="panel-head">
                <h2>{move || t(lang.get(), title).to_string()}</h2>
                <a class="panel-link" href=move || view.get().link("/breakdown", &[("metric", Some("members".into())), ("dimension", Some(dimension.key().into()))])>
                    {tr("nav.breakdown")} " →"
                </a>
            </header>
            <Chart id=id option=option label=t(lang.get_untracked(), title).to_string() on_click=on_click/>
        </article>
    }
}

/// Channel mix and the points panel, from the window's metrics.
#[component]
fn ChannelAndPoints() -> impl IntoView {
    const CHANNELS: [Metric; 3] = OverviewPanels::CHANNELS;
    let view = use_view();
    let lang = use_lang();
    let navigate = use_navigate();
    let data = LocalResource::new(move || get_overview(panels(&view.get()).channels_and_points));
    let channel_option = Signal::derive(move || match data.get() {
        Some(Ok(o)) => options::pie(
            &o.kpis
                .iter()
                .filter(|k| CHANNELS.contains(&k.key))
                .map(|k| (lang.get().pick(k.key.name()).to_string(), k.current.value.unwrap_or(0.0)))
                .collect::<Vec<_>>(),
        ),
        _ => serde_json::Value::Null,
    });
    let on_click = Callback::new(move |c: ChartClick| {
        let lang = lang.get_untracked();
        if let Some(m) = CHANNELS.iter().find(|m| lang.pick(m.name()) == c.name) {
            navigate(&drill(&view.get_untracked(), *m), Default::default());
        }
    });
    view! {
        <article class="panel">
            <header class="panel-head"><h2>{tr("channel_mix")}</h2></header>
            <Chart id="channel-chart" option=channel_option label=tr("channel_mix")() on_click=on_click/>
        </article>
        <article class="panel points">
            <header class="panel-head"><h2>{tr("points")}</h2></header>
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    data.await.map(|o| {
                        let usage = o.kpis.iter().find(|k| k.key == Metric::PointsUsageRate).cloned();
                        let lang = lang.get_untracked();
                        let rows = usage.map(|u| view! {
                            <tr><th scope="row">{t(lang, "points.earned").to_string()}</th><td class="num" data-points="earned">{format::count(u.current.denominator as f64)}</td></tr>
                            <tr><th scope="row">{t(lang, "points.redeemed").to_string()}</th><td class="num" data-points="redeemed">{format::count(u.current.numerator as f64)}</td></tr>
                        });
                        let metrics = o.kpis.into_iter().filter(|k| OverviewPanels::POINTS.contains(&k.key)).map(|k| {
                            let href = drill(&view.get_untracked(), k.key);
                            view! {
                                <tr>
                                    <th scope="row"><a href=href>{lang.pick(k.key.name()).to_string()}</a></th>
                                    <td class="num" data-points=k.key.key()>{format::measure(k.unit, &k.current)}</td>
                                </tr>
                            }
                        }).collect_view();
                        view! { <table class="data compact"><tbody>{rows}{metrics}</tbody></table> }
                    })
                })}
            </Suspense>
        </article>
    }
}

/// Retention by join month and month since joining; a cell opens the cohort's members.
#[component]
fn CohortPanel() -> impl IntoView {
    let view = use_view();
    let lang = use_lang();
    let navigate = use_navigate();
    let data = LocalResource::new(move || get_cohorts(panels(&view.get()).cohorts));
    let cohorts = Signal::derive(move || data.get().and_then(|c| c.ok()));
    let option = Signal::derive(move || {
        let Some(c) = cohorts.get() else {
            return serde_json::Value::Null;
        };
        let rows: Vec<_> = c.cohorts.iter().collect();
        let ages = rows.iter().map(|r| r.retention.len()).max().unwrap_or(0).min(12);
        let x: Vec<String> = (0..ages).map(|i| i.to_string()).collect();
        let y: Vec<String> = rows.iter().map(|r| r.cohort.clone()).collect();
        let mut cells = Vec::new();
        let mut max: f64 = 0.0;
        for (j, r) in rows.iter().enumerate() {
            for (i, cell) in r.retention.iter().take(ages).enumerate() {
                let v = cell.as_ref().and_then(|m| m.value);
                if i > 0 {
                    max = max.max(v.unwrap_or(0.0));
                }
                cells.push((i, j, v));
            }
        }
        options::heatmap(&x, &y, &cells, max.max(0.01), true)
    });
    let on_click = Callback::new(move |c: ChartClick| {
        let Some(cohorts) = cohorts.get_untracked() else { return };
        let rows: Vec<_> = cohorts.cohorts.iter().collect();
        if let Some(j) = c.value.get(1).and_then(|v| v.as_u64())
            && let Some(r) = rows.get(j as usize)
        {
            let v = view.get_untracked().with_filter("join_cohort", &r.cohort);
            navigate(&v.link("/members", &[]), Default::default());
        }
    });
    view! {
        <article class="panel wide">
            <header class="panel-head">
                <h2>{tr("cohorts")}</h2>
                <span class="panel-note">{move || format!("{} × {}", t(lang.get(), "cohort.month"), t(lang.get(), "cohort.age"))}</span>
            </header>
            <Chart id="cohort-chart" option=option label=tr("cohorts")() on_click=on_click/>
        </article>
    }
}

/// The rest of the catalogue, predicted metrics included.
#[component]
fn MoreMetrics() -> impl IntoView {
    let view = use_view();
    let data = LocalResource::new(move || get_overview(panels(&view.get()).rest));
    view! {
        <h2 class="section-title">{tr("more_metrics")}</h2>
        <Suspense fallback=Loading>
            <ErrorBoundary fallback=|errors| view! { <ErrorTemplate errors=errors/> }>
                {move || Suspend::new(async move {
                    data.await.map(|o| view! {
                        <div class="kpi-grid more">
                            {o.kpis.into_iter().map(|k| view! { <KpiCard kpi=k/> }).collect_view()}
                        </div>
                    })
                })}
            </ErrorBoundary>
        </Suspense>
    }
}
