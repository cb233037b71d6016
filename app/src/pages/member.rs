//! One member, 360°: profile (masked), lifecycle stage, RFM scores and segment, what the
//! model says (P(alive), predicted CLV, expected purchases), and a timeline of orders
//! across channels, points and tier changes — drawn and listed, newest first.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde_json::json;

use super::Loading;
use crate::{
    api::{get_member, get_segment_names},
    chart::Chart,
    error_template::ErrorTemplate,
    format,
    i18n::{Family, Lang, stored_label, t, tr, use_lang, value_label, value_label_named},
    model::{Dimension, Member360, SegmentName},
};

#[component]
pub fn MemberPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let data = Resource::new(id, get_member);
    let names = Resource::new(|| (), |_| get_segment_names());
    view! {
        <section class="member">
            <Transition fallback=Loading>
                <ErrorBoundary fallback=|errors| view! { <ErrorTemplate errors=errors/> }>
                    {move || Suspend::new(async move {
                        let names = names.await.unwrap_or_default();
                        data.await.map(|m| view! { <Member360View member=m names/> })
                    })}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}

/// One line of the timeline.
struct Event {
    at: String,
    kind: &'static str,
    what: String,
    /// The family of stored values `what` belongs to, when they have names in both languages.
    family: Option<Family>,
    detail: Detail,
}

/// An event's detail, named in the reader's language when it is shown.
enum Detail {
    Order { amount: String, channel: Option<String>, store: Option<String> },
    Points { points: i64, source: Option<String> },
    Nothing,
}

impl Detail {
    fn shown(&self, lang: Lang) -> String {
        match self {
            Detail::Order { amount, channel, store } => format!(
                "{amount} · {}{}",
                channel.as_deref().map(|c| stored_label(lang, Family::Channel, c)).unwrap_or_default(),
                store.as_ref().map(|s| format!(" · {s}")).unwrap_or_default()
            ),
            Detail::Points { points, source } => format!(
                "{points} {}",
                source.as_deref().map(|s| stored_label(lang, Family::PointsSource, s)).unwrap_or_default()
            ),
            Detail::Nothing => String::new(),
        }
    }
}

fn timeline(m: &Member360) -> Vec<Event> {
    let mut events: Vec<Event> = m
        .orders
        .iter()
        .map(|o| Event {
            at: o.ordered_at.clone(),
            kind: "order",
            what: o.order_id.clone(),
            family: None,
            detail: Detail::Order {
                amount: format::money(o.net_amount_cents as f64 / 100.0),
                channel: o.channel.clone(),
                store: o.store_id.clone(),
            },
        })
        .chain(m.points.iter().map(|p| Event {
            at: p.occurred_at.clone(),
            kind: "points_entry",
            what: p.kind.clone(),
            family: Some(Family::PointsKind),
            detail: Detail::Points { points: p.points, source: p.source.clone() },
        }))
        .chain(m.tier_changes.iter().map(|c| Event {
            at: c.changed_at.clone(),
            kind: "tier_change",
            what: c.tier.clone(),
            family: Some(Family::Tier),
            detail: Detail::Nothing,
        }))
        .collect();
    events.sort_by(|a, b| b.at.cmp(&a.at));
    events
}

/// Orders over time, one series per channel; tier changes as marks on the time axis.
fn timeline_chart(m: &Member360, lang: Lang) -> serde_json::Value {
    let mut channels: Vec<String> =
        m.orders.iter().map(|o| o.channel.clone().unwrap_or_else(|| "(none)".into())).collect();
    channels.sort();
    channels.dedup();
    let series: Vec<serde_json::Value> = channels
        .iter()
        .map(|c| {
            let data: Vec<serde_json::Value> = m
                .orders
                .iter()
                .filter(|o| o.channel.clone().unwrap_or_else(|| "(none)".into()) == *c)
                .map(|o| json!([o.ordered_at.replace(' ', "T"), o.net_amount_cents as f64 / 100.0]))
                .collect();
            json!({ "name": stored_label(lang, Family::Channel, c), "type": "scatter", "data": data, "symbolSize": 9 })
        })
        .chain(std::iter::once(json!({
            "name": t(lang, "tier"), "type": "scatter", "data": [],
            "markLine": { "symbol": "none", "label": { "formatter": "{b}" },
                          "data": m.tier_changes.iter().map(|c| json!({ "name": value_label(lang, Dimension::Tier, &c.tier), "xAxis": c.changed_at.replace(' ', "T") })).collect::<Vec<_>>() }
        })))
        .collect();
    json!({
        "animation": false,
        "color": ["#2f5bea", "#f59f00", "#12805c", "#c8372d", "#7048e8", "#1098ad"],
        "tooltip": { "trigger": "item" },
        "legend": { "top": 0 },
        "grid": { "left": 64, "right": 16, "top": 36, "bottom": 32 },
        "xAxis": { "type": "time" },
        "yAxis": { "type": "value" },
        "series": series
    })
}

#[component]
fn Member360View(member: Member360, names: Vec<SegmentName>) -> impl IntoView {
    let lang = use_lang();
    let m = &member.member;
    let events = timeline(&member);
    let chart = timeline_chart(&member, lang.get_untracked());
    let field = move |key: &'static str, value: String| {
        view! { <div class="field" data-field=key><dt>{move || t(lang.get(), key).to_string()}</dt><dd>{value}</dd></div> }
    };
    // Stage and tier are named in the reader's language; `data-value` keeps the stored value.
    let named = move |key: &'static str, dimension: Dimension, value: String| {
        let shown = value.clone();
        view! {
            <div class="field" data-field=key><dt>{move || t(lang.get(), key).to_string()}</dt>
                <dd data-value=value>{move || value_label(lang.get(), dimension, &shown)}</dd></div>
        }
    };
    let rfm = member.rfm.clone();
    let rfm = move || {
        rfm.as_ref()
            .map(|r| {
                format!(
                    "R{} F{} M{} · {}",
                    r.r,
                    r.f,
                    r.m,
                    value_label_named(lang.get(), Dimension::RfmSegment, &r.segment, &names)
                )
            })
            .unwrap_or_else(|| "—".into())
    };
    let prediction = member.prediction.as_ref().map(|p| {
        let s = &p.score;
        view! {
            <div class="field" data-field="p_alive"><dt>{tr("p_alive")}</dt><dd>{format!("{:.2}", s.p_alive)}</dd></div>
            <div class="field" data-field="clv_12m"><dt>{tr("clv_12m")}</dt><dd>{format::money(s.clv_12m)}</dd></div>
            <div class="field" data-field="expected_purchases"><dt>{tr("expected_purchases")}</dt>
                <dd>{format!("{:.2} / {:.2} / {:.2}", s.purchases_30d, s.purchases_90d, s.purchases_365d)}</dd></div>
        }
    });
    view! {
        <h1 class="page-title" data-member=m.member_id.clone()>{format!("{} {}", m.member_id, m.name.clone().unwrap_or_default())}</h1>
        <dl class="profile">
            {named("stage", Dimension::LifecycleStage, member.stage.clone())}
            {named("tier", Dimension::Tier, m.tier.clone().unwrap_or_default())}
            {field("region", m.region.clone().unwrap_or_default())}
            {field("phone", m.phone.clone().unwrap_or_default())}
            {field("joined_at", m.joined_at.clone().unwrap_or_default())}
            {field("purchases", m.purchases.to_string())}
            {field("revenue", format::money(m.revenue_cents as f64 / 100.0))}
            {field("points_balance", format::count(m.points_balance as f64))}
            <div class="field" data-field="rfm"><dt>{move || t(lang.get(), "rfm").to_string()}</dt><dd>{rfm}</dd></div>
            {prediction}
            <div class="field" data-field="consent"><dt>{tr("consent")}</dt>
                <dd data-value=m.marketing_consent.map(|c| c.to_string()).unwrap_or_default()>{
                    let now = m.marketing_consent;
                    move || t(lang.get(), match now {
                        Some(true) => "consent.given",
                        Some(false) => "consent.withdrawn",
                        None => "consent.unrecorded",
                    }).to_string()
                }</dd></div>
        </dl>
        <h2 class="section-title">{tr("consent.history")}</h2>
        <table class="data consent-history">
            <thead><tr><th scope="col">{tr("when")}</th><th scope="col">{tr("consent")}</th>
                <th scope="col">{tr("consent.channel")}</th><th scope="col">{tr("consent.recorded")}</th></tr></thead>
            <tbody>
                {member.consent_history.iter().map(|c| {
                    let given = c.consent;
                    view! {
                        <tr data-consent=given.to_string()>
                            <td>{c.given_at.clone()}</td>
                            <td>{move || t(lang.get(), if given { "consent.given" } else { "consent.withdrawn" }).to_string()}</td>
                            <td>{c.channel.clone().unwrap_or_default()}</td>
                            <td>{format!("{} ({})", c.recorded_at, c.source)}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        <h2 class="section-title">{tr("identity.identities")}</h2>
        <table class="data identities" id="member-identities">
            <thead><tr><th scope="col">{tr("identity.kind")}</th><th scope="col">{tr("identity.value")}</th>
                <th scope="col">{tr("identity.loaded_for")}</th></tr></thead>
            <tbody>
                {member.identities.iter().map(|i| view! {
                    <tr data-kind=i.kind.clone()><td>{i.kind.clone()}</td><td>{i.value.clone()}</td><td>{i.member_id.clone()}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
        <h2 class="section-title">{tr("timeline")}</h2>
        <Chart id="member-timeline" option=Signal::stored(chart) label=tr("timeline")()/>
        <table class="data timeline">
            <thead><tr><th scope="col">{tr("when")}</th><th scope="col">{tr("what")}</th><th scope="col">{tr("detail")}</th></tr></thead>
            <tbody>
                {events.into_iter().map(|e| view! {
                    <tr class=e.kind data-kind=e.kind>
                        <td>{e.at}</td>
                        <td>{move || t(lang.get(), e.kind).to_string()} " "
                            {move || match e.family {
                                Some(f) => stored_label(lang.get(), f, &e.what),
                                None => e.what.clone(),
                            }}</td>
                        <td>{move || e.detail.shown(lang.get())}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
