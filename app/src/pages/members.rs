//! The members behind any number: the view's filters (and segment) as of T, one page at
//! a time, sortable by column, with a CSV export of the whole list (the same query).
//! URL: `/members?filters=…&sort=-revenue&page=2` plus the view.

use leptos::prelude::*;

use super::{FilterChips, Loading, Toolbar, use_param, use_view};
use crate::{
    api::get_members,
    error_template::ErrorTemplate,
    format,
    i18n::{t, tr, use_lang, value_label},
    model::{Dimension, MemberPage, MembersQuery},
};

pub const PAGE_SIZE: u32 = 50;

#[component]
pub fn MembersPage() -> impl IntoView {
    let view = use_view();
    let sort = use_param("sort");
    let page = use_param("page");
    let find = use_param("find");
    let consent = use_param("consent");
    let query = move || {
        let v = view.get();
        MembersQuery {
            filters: v.filters,
            as_of: v.as_of,
            sort: Some(sort.get().unwrap_or_else(|| "-revenue".into())),
            page: page.get().and_then(|p| p.parse().ok()),
            page_size: Some(PAGE_SIZE),
            segment: v.segment,
            find: find.get(),
            consent: consent.get().filter(|c| !c.is_empty()),
            purpose: None,
        }
    };
    let data = Resource::new(query, get_members);
    let resolved = Signal::derive(move || data.get().and_then(|p| p.ok()).map(|p| p.as_of));
    view! {
        <section class="members">
            <h1 class="page-title">{tr("members.list")}</h1>
            <Toolbar path="/members" resolved_as_of=resolved windows=false/>
            <FilterChips path="/members"/>
            <super::save_segment::SaveSegment/>
            {move || find.get().map(|f| {
                let shown = f.clone();
                view! {
                <p class="finding" data-find=f>{tr("find.showing")} " “" {shown} "” · "
                    <a href=move || view.get().link("/members", &[])>{tr("find.clear")}</a></p>
            }})}
            <Transition fallback=Loading>
                <ErrorBoundary fallback=|errors| view! { <ErrorTemplate errors=errors/> }>
                    {move || Suspend::new(async move {
                        let consent = consent.get_untracked().filter(|c| !c.is_empty());
                        data.await.map(|p| view! { <MemberTable page=p consent=consent/> })
                    })}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}

#[component]
fn MemberTable(page: MemberPage, consent: Option<String>) -> impl IntoView {
    let view = use_view();
    let lang = use_lang();
    let sort = page.sort.clone();
    let v = view.get_untracked();
    let link = {
        let (v, consent) = (v.clone(), consent.clone());
        move |sort: String, page: u32| {
            v.link(
                "/members",
                &[("sort", Some(sort)), ("page", (page > 1).then(|| page.to_string())), ("consent", consent.clone())],
            )
        }
    };
    // Marketing consent: all members, those who gave it, those who did not.
    let consent_filter = ["", "given", "not_given"]
        .into_iter()
        .map(|key| {
            let href = v.link(
                "/members",
                &[("sort", Some(page.sort.clone())), ("consent", (!key.is_empty()).then(|| key.to_string()))],
            );
            let current = consent.as_deref().unwrap_or("") == key;
            let label = if key.is_empty() { "consent.all" } else { key_label(key) };
            view! { <a href=href data-consent=key aria-current=current.then_some("true")>{tr(label)}</a> }
        })
        .collect_view();
    let outreach = v.link(
        "/api/v1/members.csv",
        &[("sort", Some(page.sort.clone())), ("consent", Some("given".into())), ("purpose", Some("outreach".into()))],
    );
    let header = {
        let link = link.clone();
        move |key: &'static str, label: &'static str| {
            let next = if sort == format!("-{key}") { key.to_string() } else { format!("-{key}") };
            let state = super::sort_state(&sort, key);
            view! { <th scope="col" aria-sort=state><a href=link(next, 1) data-sort=key>{move || t(lang.get(), label).to_string()}</a></th> }
        }
    };
    let pages = ((page.total + i64::from(page.page_size) - 1) / i64::from(page.page_size)).max(1) as u32;
    let csv = v.link("/api/v1/members.csv", &[("sort", Some(page.sort.clone())), ("consent", consent.clone())]);
    let summary = format!("{} {}", format::count(page.total as f64), t(lang.get_untracked(), "members.total"));
    let rows = page
        .rows
        .into_iter()
        .map(|m| {
            let href = format!("/members/{}", format::url_encode(&m.member_id));
            view! {
                <tr data-member=m.member_id.clone()>
                    <td><a href=href>{m.member_id.clone()}</a></td>
                    <td class="name">{m.name.clone().unwrap_or_default()}</td>
                    <td>{m.region.clone().unwrap_or_default()}</td>
                    <td data-value=m.tier.clone().unwrap_or_default()>{
                        let tier = m.tier.clone();
                        move || tier.as_deref().map(|v| value_label(lang.get(), Dimension::Tier, v)).unwrap_or_default()
                    }</td>
                    <td class="num" data-col="purchases">{m.purchases}</td>
                    <td class="num" data-col="revenue">{format::money(m.revenue_cents as f64 / 100.0)}</td>
                    <td data-col="last_purchase_at">{m.last_purchase_at.clone().unwrap_or_default()}</td>
                    <td class="num" data-col="p_alive">{m.p_alive.map(|p| format!("{p:.2}")).unwrap_or_default()}</td>
                    <td class="num" data-col="clv_12m">{m.clv_12m.map(format::money).unwrap_or_default()}</td>
                    <td data-col="consent" data-value=m.marketing_consent.map(|c| c.to_string()).unwrap_or_default()>{
                        match m.marketing_consent { Some(true) => "✓", Some(false) => "✗", None => "—" }
                    }</td>
                </tr>
            }
        })
        .collect_view();
    let (prev, next) = (
        (page.page > 1).then(|| link(page.sort.clone(), page.page - 1)),
        (page.page < pages).then(|| link(page.sort.clone(), page.page + 1)),
    );
    view! {
        <div class="list-head">
            <p class="list-total" data-total=page.total>{summary}</p>
            <nav class="consent-filter" aria-label=tr("consent")>{consent_filter}</nav>
            <a class="button" id="export-csv" href=csv download="members.csv">{tr("export_csv")}</a>
            <a class="button" id="export-outreach" href=outreach download="members-outreach.csv"
               title=tr("export_outreach.help")>{tr("export_outreach")}</a>
        </div>
        {if page.total == 0 {
            view! { <p class="empty">{tr("empty")}</p> }.into_any()
        } else {
            view! {
                <div class="table-scroll">
                    <table class="data member-list">
                        <thead><tr>
                            {header("member_id", "member_id")}
                            <th scope="col">{tr("name")}</th>
                            <th scope="col">{tr("region")}</th>
                            <th scope="col">{tr("tier")}</th>
                            {header("purchases", "purchases")}
                            {header("revenue", "revenue")}
                            {header("last_purchase_at", "last_purchase_at")}
                            {header("p_alive", "p_alive")}
                            {header("clv_12m", "clv_12m")}
                            <th scope="col">{tr("consent")}</th>
                        </tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
            }.into_any()
        }}
        <nav class="pager" aria-label=tr("page")>
            {prev.map(|h| view! { <a href=h rel="prev" id="prev-page">{tr("prev_page")}</a> })}
            <span class="page-no" data-page=page.page>{format!("{} / {}", page.page, pages)}</span>
            {next.map(|h| view! { <a href=h rel="next" id="next-page">{tr("next_page")}</a> })}
        </nav>
    }
}

/// The label key of a consent filter's value.
fn key_label(key: &str) -> &'static str {
    match key {
        "given" => "consent.given",
        _ => "consent.not_given",
    }
}
