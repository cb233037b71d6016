//! Segments: the named RFM segments with their size, revenue and LTV, the RFM 5×5 grid
//! (recency × frequency, members per cell) and the saved segments. Every segment and
//! cell opens its members.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use super::{FilterChips, Loading, Toolbar, use_view};
use crate::{
    api::{get_breakdown, get_segment_names},
    chart::{Chart, ChartClick, options},
    error_template::ErrorTemplate,
    format,
    i18n::{Lang, tr, use_lang},
    model::{BreakdownQuery, Dimension, Metric, Unit},
};

fn ltv_by(v: &super::View, dimension: Dimension) -> BreakdownQuery {
    BreakdownQuery {
        metric: Some(Metric::HistoricalLtv.key().into()),
        dimension: Some(dimension.key().into()),
        as_of: v.as_of.clone(),
        window: v.window.clone(),
        compare: v.compare.clone(),
        filters: v.filters.clone(),
        segment: v.segment.clone(),
    }
}

#[component]
pub fn SegmentsPage() -> impl IntoView {
    let view = use_view();
    let lang = use_lang();
    let named = Resource::new(move || view.get(), |v| get_breakdown(ltv_by(&v, Dimension::RfmSegment)));
    let names = Resource::new(|| (), |_| get_segment_names());
    let grid = LocalResource::new(move || get_breakdown(ltv_by(&view.get(), Dimension::RfmCell)));
    let resolved = Signal::derive(move || named.get().and_then(|b| b.ok()).map(|b| b.as_of));
    let navigate = use_navigate();
    let grid_option = Signal::derive(move || {
        let Some(Ok(b)) = grid.get() else {
            return serde_json::Value::Null;
        };
        let scores: Vec<String> = (1..=5).map(|i| i.to_string()).collect();
        let mut cells = Vec::new();
        let mut max: f64 = 1.0;
        for r in &b.rows {
            // `R4F2` → recency 4 (x), frequency 2 (y); members are the LTV's denominator.
            let (Some(rs), Some(fs)) = (r.value.get(1..2), r.value.get(3..4)) else { continue };
            let (Ok(rs), Ok(fs)) = (rs.parse::<usize>(), fs.parse::<usize>()) else { continue };
            let n = r.current.denominator as f64;
            max = max.max(n);
            cells.push((rs - 1, fs - 1, Some(n)));
        }
        let mut o = options::heatmap(&scores, &scores, &cells, max, false);
        o["xAxis"]["name"] = serde_json::json!(crate::i18n::t(lang.get(), "rfm.recency"));
        o["yAxis"]["name"] = serde_json::json!(crate::i18n::t(lang.get(), "rfm.frequency"));
        o
    });
    let on_cell = Callback::new(move |c: ChartClick| {
        if let (Some(x), Some(y)) = (c.value.get(0).and_then(|v| v.as_u64()), c.value.get(1).and_then(|v| v.as_u64())) {
            let v = view.get_untracked().with_filter("rfm_cell", &format!("R{}F{}", x + 1, y + 1));
            navigate(&v.link("/members", &[]), Default::default());
        }
    });
    view! {
        <section class="segments">
            <h1 class="page-title">{tr("nav.segments")}</h1>
            <Toolbar path="/segments" resolved_as_of=resolved/>
            <FilterChips path="/segments"/>
            <h2 class="section-title">{tr("named_segments")}</h2>
            <Transition fallback=Loading>
                <ErrorBoundary fallback=|errors| view! { <ErrorTemplate errors=errors/> }>
                    {move || Suspend::new(async move {
                        let names = names.await.unwrap_or_default();
                        named.await.map(|b| {
                            let rows = b.rows.into_iter().map(|r| {
                                let label = names.iter().find(|n| n.key == r.value).map(|n| match lang.get_untracked() {
                                    Lang::Zh => n.name_zh.clone(),
                                    Lang::En => n.name_en.clone(),
                                }).unwrap_or_else(|| r.value.clone());
                                let href = view.get_untracked().with_filter("rfm_segment", &r.value).link("/members", &[]);
                                view! {
                                    <tr data-segment=r.value.clone()>
                                        <th scope="row"><a href=href>{label}</a></th>
                                        <td class="num size">{format::count(r.current.denominator as f64)}</td>
                                        <td class="num revenue">{format::money(r.current.numerator as f64 / 100.0)}</td>
                                        <td class="num ltv">{format::measure(Unit::Money, &r.current)}</td>
                                    </tr>
                                }
                            }).collect_view();
                            view! {
                                <table class="data named-segments">
                                    <thead><tr>
                                        <th scope="col">{tr("segment")}</th>
                                        <th scope="col">{tr("size")}</th>
                                        <th scope="col">{tr("revenue")}</th>
                                        <th scope="col">{tr("ltv")}</th>
                                    </tr></thead>
                                    <tbody>{rows}</tbody>
                                </table>
                            }
                        })
                    })}
                </ErrorBoundary>
            </Transition>
            <h2 class="section-title">{tr("rfm.grid")}</h2>
            <Chart id="rfm-grid" option=grid_option label=tr("rfm.grid")() on_click=on_cell/>
            <h2 class="section-title" id="rfm-rules-title">{tr("rfm_rules")}</h2>
            <super::rfm_rules::RfmRules/>
            <h2 class="section-title">{tr("saved_segments")}</h2>
            <super::saved_segments::SavedSegments/>
        </section>
    }
}
