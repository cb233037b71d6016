//! A metric broken down by a dimension under the view's filters: a bar chart and a
//! sortable table, current against comparison window. A bar or a row's count opens the
//! members behind it; "filter" narrows the view to that value and keeps drilling.
//! URL: `/breakdown?metric=…&dimension=…&sort=-current` plus the view.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use super::{FilterChips, Loading, Toolbar, use_param, use_view};
use crate::{
    api::{get_breakdown, get_segment_names},
    chart::{Chart, ChartClick, options},
    error_template::ErrorTemplate,
    format,
    i18n::{Lang, t, tr, use_lang, value_label_named},
    model::{Breakdown, BreakdownQuery, BreakdownRow, Dimension, Metric, SegmentName, Unit},
};

/// Table order: `value`, `current`, `comparison`, `change`, `-` first for descending.
fn sorted(mut rows: Vec<BreakdownRow>, sort: &str) -> Vec<BreakdownRow> {
    let (key, desc) = match sort.strip_prefix('-') {
        Some(k) => (k, true),
        None => (sort, false),
    };
    let num = |m: &crate::model::Measure| m.value.unwrap_or(f64::NEG_INFINITY);
    rows.sort_by(|a, b| {
        let o = match key {
            "current" => num(&a.current).total_cmp(&num(&b.current)),
            "comparison" => num(&a.comparison).total_cmp(&num(&b.comparison)),
            "change" => (num(&a.current) - num(&a.comparison)).total_cmp(&(num(&b.current) - num(&b.comparison))),
            _ => a.value.cmp(&b.value),
        };
        if desc { o.reverse() } else { o }
    });
    rows
}

#[component]
pub fn BreakdownPage() -> impl IntoView {
    let view = use_view();
    let metric = use_param("metric");
    let dimension = use_param("dimension");
    let sort = use_param("sort");
    let lang = use_lang();
    let navigate = use_navigate();
    let query = move || {
        let v = view.get();
        BreakdownQuery {
            metric: Some(metric.get().unwrap_or_else(|| "historical_ltv".into())),
            dimension: Some(dimension.get().unwrap_or_else(|| "region".into())),
            as_of: v.as_of,
            window: v.window,
            compare: v.compare,
            filters: v.filters,
            segment: v.segment,
        }
    };
    let data = Resource::new(query, get_breakdown);
    let names = Resource::new(|| (), |_| get_segment_names());
    let resolved = Signal::derive(move || data.get().and_then(|b| b.ok()).map(|b| b.as_of));
    let here = move |m: Option<String>, d: Option<String>, s: Option<String>| {
        view.get_untracked().link("/breakdown", &[("metric", m), ("dimension", d), ("sort", s)])
    };
    let nav_metric = navigate.clone();
    let nav_dim = navigate.clone();
    view! {
        <section class="breakdown">
            <h1 class="page-title">{tr("nav.breakdown")}</h1>
            <Toolbar path="/breakdown" resolved_as_of=resolved/>
            <div class="toolbar" role="group" aria-label=tr("dimension")>
                <label>
                    {tr("metric")}
                    <select
                        id="metric"
                        prop:value=move || metric.get().unwrap_or_else(|| "historical_ltv".into())
                        on:change=move |ev| nav_metric(&here(Some(event_target_value(&ev)), dimension.get_untracked(), sort.get_untracked()), Default::default())
                    >
                        {Metric::ALL.iter().map(|&m| view! { <option value=m.key()>{move || lang.get().pick(m.name()).to_string()}</option> }).collect_view()}
                    </select>
                </label>
                <label>
                    {tr("dimension")}
                    <select
                        id="dimension"
                        prop:value=move || dimension.get().unwrap_or_else(|| "region".into())
                        on:change=move |ev| nav_dim(&here(metric.get_untracked(), Some(event_target_value(&ev)), sort.get_untracked()), Default::default())
                    >
                        {Dimension::ALL.iter().map(|&d| view! { <option value=d.key()>{move || lang.get().pick(d.name()).to_string()}</option> }).collect_view()}
                    </select>
                </label>
            </div>
            <FilterChips path="/breakdown"/>
            <super::save_segment::SaveSegment/>
            <Transition fallback=Loading>
                <ErrorBoundary fallback=|errors| view! { <ErrorTemplate errors=errors/> }>
                    {move || {
                        // The order is the page's, not the query's: re-render on a new sort.
                        let order = sort.get();
                        Suspend::new(async move {
                            // RFM segments by the rule table's names (an admin may rename them).
                            let names = names.await.unwrap_or_default();
                            data.await.map(|b| view! { <BreakdownView breakdown=b sort=order names/> })
                        })
                    }}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}

#[component]
fn BreakdownView(breakdown: Breakdown, sort: Option<String>, names: Vec<SegmentName>) -> impl IntoView {
    let view = use_view();
    let lang = use_lang();
    let navigate = use_navigate();
    let (metric, dimension, unit) = (breakdown.metric, breakdown.dimension, breakdown.unit);
    let sort = sort.unwrap_or_else(|| "value".into());
    let rows = sorted(breakdown.rows.clone(), &sort);
    let values: Vec<String> = rows.iter().map(|r| r.value.clone()).collect();
    let label = move |v: &str| value_label_named(lang.get_untracked(), dimension, v, &names);
    let categories: Vec<String> = values.iter().map(|v| label(v)).collect();
    let option = {
        let cur: Vec<Option<f64>> = rows.iter().map(|r| r.current.value).collect();
        let cmp: Vec<Option<f64>> = rows.iter().map(|r| r.comparison.value).collect();
        let l = lang.get_untracked();
        let money = matches!(unit, Unit::Money | Unit::Amount) && l == Lang::Zh;
        options::in_yuan_zh(
            options::bars(&categories, &[(t(l, "current").to_string(), cur), (t(l, "previous").to_string(), cmp)]),
            money,
        )
    };
    let members_of = move |value: &str| view.get_untracked().with_filter(dimension.key(), value).link("/members", &[]);
    let on_click = Callback::new(move |c: ChartClick| {
        let value = values
            .iter()
            .zip(&categories)
            .find(|(_, shown)| **shown == c.name)
            .map_or_else(|| c.name.clone(), |(v, _)| v.clone());
        navigate(&members_of(&value), Default::default());
    });
    // A header link sorts by its column, again for the other direction.
    let header = move |key: &'static str, label: &'static str| {
        let next = if sort == key { format!("-{key}") } else { key.to_string() };
        let state = super::sort_state(&sort, key);
        let href = view.get_untracked().link(
            "/breakdown",
            &[("metric", Some(metric.key().into())), ("dimension", Some(dimension.key().into())), ("sort", Some(next))],
        );
        view! { <th scope="col" aria-sort=state><a href=href data-sort=key>{move || t(lang.get(), label).to_string()}</a></th> }
    };
    let row = move |r: BreakdownRow, total: bool| {
        let change = format::change(unit, &r.current, &r.comparison).map(|(_, t)| t).unwrap_or_else(|| "—".into());
        let value = r.value.clone();
        let actions = if total {
            view! { <td class="actions"></td> }.into_any()
        } else {
            let narrowed = view.get_untracked().with_filter(dimension.key(), &value).link(
                "/breakdown",
                &[("metric", Some(metric.key().into())), ("dimension", Some(dimension.key().into()))],
            );
            view! {
                <td class="actions">
                    <a class="members-link" href=members_of(&value)>{tr("members.list")}</a>
                    " · "
                    <a class="filter-link" href=narrowed>{tr("filter.add")}</a>
                </td>
            }
            .into_any()
        };
        view! {
            <tr data-value=r.value.clone() class:total=total>
                <th scope="row">{if total { t(lang.get_untracked(), "total").to_string() } else { label(&r.value) }}</th>
                <td class="num current" title=r.current.reason.clone().unwrap_or_default()>{format::measure(unit, &r.current)}</td>
                <td class="num comparison">{format::measure(unit, &r.comparison)}</td>
                <td class="num">{change}</td>
                {actions}
            </tr>
        }
    };
    let caption = format!(
        "{} · {} — {} – {}",
        lang.get_untracked().pick(metric.name()),
        lang.get_untracked().pick(dimension.name()),
        breakdown.window.start,
        breakdown.window.end
    );
    view! {
        <Chart id="breakdown-chart" option=Signal::stored(option) label=caption.clone() on_click=on_click/>
        <table class="data breakdown" data-metric=metric.key() data-dimension=dimension.key()>
            <caption>{caption}</caption>
            <thead>
                <tr>
                    {header("value", "value")}
                    {header("current", "current")}
                    {header("comparison", "previous")}
                    {header("change", "change")}
                    <th scope="col"></th>
                </tr>
            </thead>
            <tbody>
                {rows.into_iter().map(|r| row(r, false)).collect_view()}
                {row(breakdown.total, true)}
            </tbody>
        </table>
    }
}
