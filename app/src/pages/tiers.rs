//! Tier migration: members (joined by the first date) by their tier at the end of the
//! first date (rows) and at the end of the second (columns), under the view's filters.
//! The second date is the view's as-of date (default: the latest order's); the first is
//! `from` (default: a year before). Executives see small cells withheld, with the reason.
//! URL: `/tiers?from=2025-06-30&as_of=2026-06-30&filters=…`.

use leptos::prelude::*;

use super::{FilterChips, Loading, Toolbar, use_param, use_view};
use crate::{
    api::get_tier_migration,
    error_template::ErrorTemplate,
    format,
    i18n::{t, tr, use_lang, value_label},
    model::{Dimension, TierMigration, TierMigrationQuery},
};

#[component]
pub fn TiersPage() -> impl IntoView {
    let view = use_view();
    let from = use_param("from");
    let query = move || {
        let v = view.get();
        TierMigrationQuery { from: from.get(), to: v.as_of, filters: v.filters, segment: v.segment }
    };
    let data = Resource::new(query, get_tier_migration);
    let resolved = Signal::derive(move || data.get().and_then(|m| m.ok()).map(|m| m.to));
    view! {
        <section class="tiers">
            <h1 class="page-title">{tr("tiers.title")}</h1>
            <Toolbar path="/tiers" resolved_as_of=resolved windows=false/>
            <FilterChips path="/tiers"/>
            <Transition fallback=Loading>
                <ErrorBoundary fallback=|errors| view! { <ErrorTemplate errors=errors/> }>
                    {move || Suspend::new(async move { data.await.map(|m| view! { <Matrix migration=m/> }) })}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}

/// The from-tier × to-tier table with row totals; a cell without members is empty, a
/// withheld one `—`.
#[component]
fn Matrix(migration: TierMigration) -> impl IntoView {
    let lang = use_lang();
    let view = use_view();
    let mut m = migration;
    // The ladder's order (the generator's and most programmes' tiers), others after by name.
    let rank = |t: &str| ["(none)", "bronze", "silver", "gold", "platinum"].iter().position(|l| *l == t).unwrap_or(9);
    m.tiers.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    let cell = |from: &str, to: &str| m.flows.iter().find(|f| f.from_tier == from && f.to_tier == to);
    let name = move |tier: String| move || value_label(lang.get(), Dimension::Tier, &tier);
    let from_input = m.from.clone();
    let navigate = leptos_router::hooks::use_navigate();
    let change_from = move |ev: leptos::ev::Event| {
        let date = event_target_value(&ev);
        navigate(&view.get_untracked().link("/tiers", &[("from", Some(date))]), Default::default());
    };
    let rows = m
        .tiers
        .iter()
        .map(|from| {
            let cells = m
                .tiers
                .iter()
                .map(|to| {
                    let shown = match cell(from, to) {
                        None => String::new(),
                        Some(f) => f.members.map_or_else(|| "—".to_string(), |n| format::count(n as f64)),
                    };
                    view! { <td class="num" class:same=from == to data-to=to.clone()>{shown}</td> }
                })
                .collect_view();
            let flows: Vec<_> = m.flows.iter().filter(|f| &f.from_tier == from).collect();
            let total = if flows.iter().all(|f| f.members.is_some()) {
                format::count(flows.iter().filter_map(|f| f.members).sum::<i64>() as f64)
            } else {
                "—".to_string()
            };
            view! {
                <tr data-from=from.clone()>
                    <th scope="row">{name(from.clone())}</th>
                    {cells}
                    <td class="num total">{total}</td>
                </tr>
            }
        })
        .collect_view();
    let heads = m.tiers.iter().map(|to| view! { <th scope="col" class="num">{name(to.clone())}</th> }).collect_view();
    view! {
        <p class="panel-note">
            <label>{tr("tiers.from")} " "
                <input type="date" id="tiers-from" value=from_input on:change=change_from/>
            </label>
            " → " {m.to.clone()} " · " {tr("tiers.note")}
        </p>
        {m.withheld.clone().map(|w| view! { <p class="panel-note withheld" role="note">{w}</p> })}
        <table class="data tier-migration" data-from=m.from.clone() data-to=m.to.clone()>
            <thead><tr>
                <th scope="col">{move || format!("{} ↓ · {} →", t(lang.get(), "tiers.at_from"), t(lang.get(), "tiers.at_to"))}</th>
                {heads}
                <th scope="col" class="num">{tr("total")}</th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
