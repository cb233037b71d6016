//! Campaigns (SPEC §12): the list with each one's arms, a form for operators to define one
//! on a saved segment (the server draws the control group and refuses a bad field by
//! name), and the readout page of one campaign.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

use super::{
    Loading,
    list::{Col, Table, listed},
};
use crate::{
    api::{create_campaign, get_campaign_readout, get_campaigns, get_saved_segments},
    error_template::{ErrorTemplate, said},
    format::{count, money_in, percent},
    i18n::{Lang, t, tr, use_lang},
    model::{ArmReadout, CAMPAIGN_GOALS, Campaign, Comparison, Readout, Role},
};

/// A goal's name in `lang`.
fn goal(lang: Lang, key: &str) -> String {
    t(lang, &format!("goal.{key}")).to_string()
}

#[component]
pub fn CampaignsPage() -> impl IntoView {
    let lang = use_lang();
    let role = crate::use_role();
    let list = Resource::new(|| (), |_| get_campaigns());
    view! {
        <section class="campaigns">
            <p class="panel-note">{tr("campaigns.note")}</p>
            <Show when=move || role.get().is_some_and(|r| r >= Role::Operator)>
                <NewCampaign/>
            </Show>
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    let table = Table {
                        id: "campaigns",
                        columns: &[
                            Col::key("campaigns.name"),
                            Col::key("campaigns.segment"),
                            Col::key("campaigns.goal"),
                            Col::key("campaigns.start"),
                            Col::num("campaigns.window_days"),
                            Col::num("campaigns.arms"),
                            Col::blank(),
                        ],
                        empty: Some(("campaigns.none", Some("no-campaigns"))),
                    };
                    listed(lang.get_untracked(), list.await, table, move |c| view! {
                        <tr data-campaign=c.id>
                            <td>{c.name.clone()}</td>
                            <td><code>{c.segment.clone()}</code></td>
                            <td>{move || goal(lang.get(), &c.goal)}</td>
                            <td>{c.start.clone()}</td>
                            <td class="num">{c.window_days}</td>
                            <td class="num">{match c.treatment_members + c.control_members {
                                // Withheld (an arm under the minimum group size).
                                0 => "—".to_string(),
                                _ => format!("{} / {}", count(c.treatment_members as f64), count(c.control_members as f64)),
                            }}</td>
                            <td><a class="readout-link" href=format!("/campaigns/{}", c.id)>{tr("campaigns.readout")}</a></td>
                        </tr>
                    })
                })}
            </Suspense>
        </section>
    }
}

/// The form that defines a campaign; once the server has drawn its arms, its readout opens.
#[component]
fn NewCampaign() -> impl IntoView {
    let lang = use_lang();
    let segments = Resource::new(|| (), |_| get_saved_segments());
    let name = RwSignal::new(String::new());
    let segment = RwSignal::new(String::new());
    let start = RwSignal::new(String::new());
    let window_days = RwSignal::new("30".to_string());
    let goal_key = RwSignal::new(CAMPAIGN_GOALS[0].to_string());
    let share = RwSignal::new("0.2".to_string());
    let seed = RwSignal::new(String::new());
    let status = RwSignal::new(None::<String>);
    let navigate = use_navigate();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let campaign = Campaign {
            id: 0,
            name: name.get_untracked(),
            segment: segment.get_untracked(),
            start: start.get_untracked(),
            window_days: window_days.get_untracked().trim().parse().unwrap_or(0),
            goal: goal_key.get_untracked(),
            control_share: share.get_untracked().trim().parse().unwrap_or(f64::NAN),
            seed: seed.get_untracked().trim().parse().ok(),
            arms_from: None,
            treatment_members: 0,
            control_members: 0,
        };
        let navigate = navigate.clone();
        status.set(None);
        leptos::task::spawn_local(async move {
            match create_campaign(campaign).await {
                Ok(made) => navigate(&format!("/campaigns/{}", made.id), Default::default()),
                Err(e) => status.set(Some(said(lang.get_untracked(), &e))),
            }
        });
    };
    let text = move |label: &'static str, name_attr: &'static str, kind: &'static str, value: RwSignal<String>| {
        view! {
            <label>{tr(label)}
                <input name=name_attr type=kind step="any" prop:value=move || value.get()
                    on:input=move |ev| value.set(event_target_value(&ev))/>
            </label>
        }
    };
    view! {
        <form class="rule" id="new-campaign" on:submit=submit>
            <h2>{tr("campaigns.new")}</h2>
            {text("campaigns.name", "name", "text", name)}
            <label>{tr("campaigns.segment")}
                <Suspense fallback=Loading>
                    {move || Suspend::new(async move {
                        let list = segments.await.unwrap_or_default();
                        if list.is_empty() {
                            return view! { <span class="muted">{tr("campaigns.no_segments")}</span> }.into_any();
                        }
                        if segment.get_untracked().is_empty() {
                            segment.set(list[0].key.clone());
                        }
                        view! {
                            <select name="segment" prop:value=move || segment.get() on:change=move |ev| segment.set(event_target_value(&ev))>
                                {list.into_iter().map(|s| {
                                    let shown = match lang.get_untracked() { Lang::Zh => s.name_zh.clone(), Lang::En => s.name_en.clone() };
                                    view! { <option value=s.key.clone()>{shown}</option> }
                                }).collect_view()}
                            </select>
                        }.into_any()
                    })}
                </Suspense>
            </label>
            {text("campaigns.start", "start", "date", start)}
            {text("campaigns.window_days", "window_days", "number", window_days)}
            <label>{tr("campaigns.goal")}
                <select name="goal" prop:value=move || goal_key.get() on:change=move |ev| goal_key.set(event_target_value(&ev))>
                    {CAMPAIGN_GOALS.into_iter().map(|g| view! { <option value=g>{move || goal(lang.get(), g)}</option> }).collect_view()}
                </select>
            </label>
            {text("campaigns.control_share", "control_share", "number", share)}
            {text("campaigns.seed", "seed", "number", seed)}
            <button type="submit" id="create-campaign">{tr("campaigns.create")}</button>
            {move || status.get().map(|m| view! { <p class="error" role="status" id="campaign-status">{m}</p> })}
        </form>
    }
}

/// `/campaigns/{id}`: the readout — per arm, the comparisons, the sample ratio check and
/// the verdict in the reader's language. Executives see it too, without figures when an
/// arm is under the minimum group size.
#[component]
pub fn CampaignPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").and_then(|v| v.parse::<i64>().ok()).unwrap_or(-1));
    let data = Resource::new(id, get_campaign_readout);
    view! {
        <section class="campaign">
            <p><a href="/campaigns">"← "{tr("nav.campaigns")}</a></p>
            <Transition fallback=Loading>
                <ErrorBoundary fallback=|errors| view! { <ErrorTemplate errors=errors/> }>
                    {move || Suspend::new(async move { data.await.map(|r| view! { <ReadoutView readout=r/> }) })}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}

#[component]
fn ReadoutView(readout: Readout) -> impl IntoView {
    let lang = use_lang();
    let c = readout.campaign.clone();
    let goal_key = c.goal.clone();
    let arms_from = c.arms_from.clone().unwrap_or_default();
    let (end, complete) = (readout.window_end.clone(), readout.complete);
    let arms = readout.arms.clone();
    // The goal's rate, then revenue per member (shown as money).
    let comparisons: Vec<(&'static str, Comparison, bool)> =
        [("readout.rate", readout.rate.clone(), false), ("readout.rpm", readout.revenue.clone(), true)]
            .into_iter()
            .filter_map(|(k, c, money)| c.map(|c| (k, c, money)))
            .collect();
    let (srm_p, srm_bad) = (readout.sample_ratio_p, readout.sample_ratio_mismatch);
    let verdict = move || match lang.get() {
        Lang::Zh => readout.verdict_zh.clone(),
        Lang::En => readout.verdict_en.clone(),
    };
    view! {
        <h2 id="campaign-name">{c.name.clone()}</h2>
        <p class="muted" id="campaign-meta">
            <code>{c.segment.clone()}</code>" · "{move || goal(lang.get(), &goal_key)}" · "
            {tr("readout.window")}" "{readout.window_start.clone()}" – "{end.clone()}
            " · "{tr("campaigns.control_share")}" "{percent(c.control_share)}
            " · "{tr("readout.seed")}" "{c.seed.map(|s| s.to_string()).unwrap_or_default()}
            " · "{move || t(lang.get(), &format!("arms_from.{arms_from}")).to_string()}
            {(!complete).then(|| view! { <span class="incomplete">" · "{tr("readout.incomplete")}" "{end.clone()}</span> })}
        </p>
        <p class="verdict" id="verdict">{verdict}</p>
        {if readout.withheld {
            view! { <p class="empty" id="readout-withheld">{tr("readout.withheld")}</p> }.into_any()
        } else {
            view! {
                <table class="data" id="arms">
                    <thead><tr>
                        <th scope="col">{tr("readout.arm")}</th>
                        <th scope="col" class="num">{tr("readout.members")}</th>
                        <th scope="col" class="num">{tr("readout.conversions")}</th>
                        <th scope="col" class="num">{tr("readout.rate")}</th>
                        <th scope="col" class="num">{tr("readout.revenue")}</th>
                        <th scope="col" class="num">{tr("readout.rpm")}</th>
                    </tr></thead>
                    <tbody>{arms.into_iter().map(|a| arm_row(lang, a)).collect_view()}</tbody>
                </table>
                <h3>{tr("readout.comparisons")}</h3>
                <table class="data" id="comparisons">
                    <thead><tr>
                        <th scope="col">{tr("readout.measure")}</th>
                        <th scope="col">{tr("readout.test")}</th>
                        <th scope="col" class="num">{tr("arm.treatment")}</th>
                        <th scope="col" class="num">{tr("arm.control")}</th>
                        <th scope="col" class="num">{tr("readout.difference")}</th>
                        <th scope="col" class="num">{tr("readout.ci")}</th>
                        <th scope="col" class="num">{tr("readout.p")}</th>
                    </tr></thead>
                    <tbody>
                        {comparisons.into_iter().map(|(label, c, money)| {
                            let shown = move |v: f64| if money { money_in(lang.get(), v) } else { percent(v) };
                            let test = c.test.clone();
                            let Comparison { treatment, control, difference, ci_low, ci_high, p_value: p, .. } = c;
                            view! {
                                <tr data-test=c.test.clone()>
                                    <th scope="row">{tr(label)}</th>
                                    <td>{move || t(lang.get(), &format!("test.{test}")).to_string()}</td>
                                    <td class="num">{move || shown(treatment)}</td>
                                    <td class="num">{move || shown(control)}</td>
                                    <td class="num">{move || shown(difference)}</td>
                                    <td class="num">{move || format!("{} – {}", shown(ci_low), shown(ci_high))}</td>
                                    <td class="num">{p_value(p)}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
                <p id="sample-ratio" class:warning=srm_bad>
                    {tr("readout.srm")}": "
                    {move || t(lang.get(), if srm_bad { "readout.srm_bad" } else { "readout.srm_ok" }).to_string()}
                    {srm_p.map(|p| format!(" (p = {})", p_value(p)))}
                </p>
            }.into_any()
        }}
    }
}

fn arm_row(lang: RwSignal<Lang>, a: ArmReadout) -> impl IntoView {
    let arm = a.arm.clone();
    view! {
        <tr data-arm=a.arm.clone()>
            <th scope="row">{move || t(lang.get(), &format!("arm.{arm}")).to_string()}</th>
            <td class="num">{count(a.members as f64)}</td>
            <td class="num">{count(a.conversions as f64)}</td>
            <td class="num">{percent(a.rate)}</td>
            <td class="num">{move || money_in(lang.get(), a.revenue_cents as f64 / 100.0)}</td>
            <td class="num">{move || money_in(lang.get(), a.revenue_per_member)}</td>
        </tr>
    }
}

/// A p-value as a reader expects it: three decimals, or `< 0.001`.
fn p_value(p: f64) -> String {
    if p < 0.001 { "< 0.001".into() } else { format!("{p:.3}") }
}
