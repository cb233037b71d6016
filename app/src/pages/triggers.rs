//! Triggers (operators and admins; SPEC §12): the triggers with what each handed on and
//! held back, a form to add one, pause, resume or delete it; for admins, the messaging
//! channels and the contact policy. The server checks every role and field; the page
//! shows its refusals.

use leptos::prelude::*;

use super::{
    Loading,
    list::{Col, Table, listed},
};
use crate::{
    api::{
        create_messaging_channel, delete_trigger, get_campaigns, get_contact_policy, get_messaging_channels,
        get_saved_segments, get_triggers, save_contact_policy, save_trigger,
    },
    error_template::said,
    format::count,
    i18n::{Lang, t, tr, use_lang},
    model::{Channel, ContactPolicy, MessagingChannel, Role, Trigger, TriggerWhen},
};

const KINDS: [&str; 7] = [
    "first_purchase",
    "no_purchase",
    "p_alive_below",
    "points_expiring",
    "near_next_tier",
    "enters_segment",
    "leaves_segment",
];

/// A trigger's condition in `lang`: its kind and parameters.
fn describe(lang: Lang, when: &TriggerWhen) -> String {
    let p = |key: &str, value: String| format!("{} {value}", t(lang, &format!("param.{key}")));
    let params = match when {
        TriggerWhen::FirstPurchase { within_days } => vec![p("within_days", within_days.to_string())],
        TriggerWhen::NoPurchase { days } => vec![p("days", days.to_string())],
        TriggerWhen::PAliveBelow { below } => vec![p("below", below.to_string())],
        TriggerWhen::PointsExpiring { days, min_points } => {
            vec![p("within_days", days.to_string()), p("min_points", min_points.to_string())]
        }
        TriggerWhen::NearNextTier { next_tier, threshold_yuan, within_yuan } => vec![
            p("next_tier", crate::i18n::stored_label(lang, crate::i18n::Family::Tier, next_tier)),
            p("threshold_yuan", threshold_yuan.to_string()),
            p("within_yuan", within_yuan.to_string()),
        ],
        TriggerWhen::EntersSegment { segment } | TriggerWhen::LeavesSegment { segment } => {
            vec![p("segment", segment.clone())]
        }
    };
    format!("{} · {}", t(lang, &format!("kind.{}", when.key())), params.join(" · "))
}

#[component]
pub fn TriggersPage() -> impl IntoView {
    let lang = use_lang();
    let role = crate::use_role();
    // Bumped after each change: the lists are asked again.
    let changed = RwSignal::new(0u32);
    let triggers = Resource::new(move || changed.get(), |_| get_triggers());
    let channels = Resource::new(move || changed.get(), |_| get_messaging_channels());
    let status = RwSignal::new(None::<String>);
    let done = move |answer: Result<(), ServerFnError>| {
        status.set(Some(match answer {
            Ok(()) => t(lang.get_untracked(), "triggers.saved").to_string(),
            Err(e) => said(lang.get_untracked(), &e),
        }));
        changed.update(|n| *n += 1);
    };
    let toggle = move |mut trigger: Trigger| {
        trigger.enabled = !trigger.enabled;
        leptos::task::spawn_local(async move { done(save_trigger(trigger).await.map(|_| ())) });
    };
    let remove = move |id: i64| leptos::task::spawn_local(async move { done(delete_trigger(id).await) });
    view! {
        <section class="triggers">
            <p class="panel-note">{tr("triggers.note")}</p>
            {move || status.get().map(|m| view! { <p class="status" role="status" id="triggers-status">{m}</p> })}
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    let names = channels.await.unwrap_or_default();
                    let table = Table {
                        id: "triggers",
                        columns: &[
                            Col::key("triggers.name"),
                            Col::key("triggers.when"),
                            Col::key("triggers.channels"),
                            Col::num("triggers.sent"),
                            Col::num("triggers.held_back"),
                            Col::key("triggers.armed_at"),
                            Col::blank(),
                        ],
                        empty: Some(("triggers.none", Some("no-triggers"))),
                    };
                    listed(lang.get_untracked(), triggers.await, table, |tg| {
                        let when = tg.when.clone();
                        let via: Vec<String> = tg.channels.iter()
                            .map(|id| names.iter().find(|c| c.id == *id).map_or(id.to_string(), |c| c.name.clone()))
                            .collect();
                        let (id, enabled, again) = (tg.id, tg.enabled, tg.clone());
                        view! {
                            <tr data-trigger=tg.id data-enabled=enabled.to_string()>
                                <td>{tg.name.clone()}{(!enabled).then(|| view! { <span class="muted">" · "{tr("triggers.paused")}</span> })}</td>
                                <td>{move || describe(lang.get(), &when)}</td>
                                <td>{via.join(", ")}</td>
                                <td class="num sent">{count(tg.sent as f64)}</td>
                                <td class="num held-back">{count(tg.held_back as f64)}</td>
                                <td class="armed-at">{match tg.armed_at.clone() {
                                    Some(at) => at.into_any(),
                                    None => view! { <span class="muted">{tr("triggers.not_armed")}</span> }.into_any(),
                                }}</td>
                                <td>
                                    <button type="button" class="toggle" on:click=move |_| toggle(again.clone())>
                                        {tr(if enabled { "triggers.pause" } else { "triggers.resume" })}
                                    </button>
                                    " "
                                    <button type="button" class="delete" on:click=move |_| remove(id)>{tr("triggers.delete")}</button>
                                </td>
                            </tr>
                        }
                    })
                })}
            </Suspense>
            <NewTrigger channels changed/>
            <Show when=move || role.get() == Some(Role::Admin)>
                <Channels channels changed/>
                <Policy/>
            </Show>
        </section>
    }
}

/// The form that adds a trigger: a kind, the parameters it takes, channels and, if asked,
/// the campaign whose treatment arm alone is handed on.
#[component]
fn NewTrigger(
    channels: Resource<Result<Vec<MessagingChannel>, ServerFnError>>,
    changed: RwSignal<u32>,
) -> impl IntoView {
    let lang = use_lang();
    let segments = Resource::new(|| (), |_| get_saved_segments());
    let campaigns = Resource::new(|| (), |_| get_campaigns());
    let name = RwSignal::new(String::new());
    let kind = RwSignal::new(KINDS[0].to_string());
    // Each parameter's text, by name; the kind chosen reads the ones it takes.
    let params: [(&'static str, RwSignal<String>); 7] = [
        ("within_days", RwSignal::new("7".into())),
        ("days", RwSignal::new("60".into())),
        ("below", RwSignal::new("0.5".into())),
        ("min_points", RwSignal::new("500".into())),
        ("next_tier", RwSignal::new("gold".into())),
        ("threshold_yuan", RwSignal::new("5000".into())),
        ("within_yuan", RwSignal::new("500".into())),
    ];
    let segment = RwSignal::new(String::new());
    let chosen = RwSignal::new(Vec::<i64>::new());
    let campaign = RwSignal::new(String::new());
    let status = RwSignal::new(None::<String>);
    let param =
        move |key: &str| params.iter().find(|(k, _)| *k == key).map(|(_, v)| v.get_untracked()).unwrap_or_default();
    let number = move |key: &str| param(key).trim().parse::<f64>().unwrap_or(f64::NAN);
    let whole = move |key: &str| param(key).trim().parse::<u32>().unwrap_or(0);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let when = match kind.get_untracked().as_str() {
            "first_purchase" => TriggerWhen::FirstPurchase { within_days: whole("within_days") },
            "no_purchase" => TriggerWhen::NoPurchase { days: whole("days") },
            "p_alive_below" => TriggerWhen::PAliveBelow { below: number("below") },
            "points_expiring" => TriggerWhen::PointsExpiring {
                days: whole("within_days"),
                min_points: param("min_points").trim().parse().unwrap_or(-1),
            },
            "near_next_tier" => TriggerWhen::NearNextTier {
                next_tier: param("next_tier").trim().to_string(),
                threshold_yuan: number("threshold_yuan"),
                within_yuan: number("within_yuan"),
            },
            "enters_segment" => TriggerWhen::EntersSegment { segment: segment.get_untracked() },
            _ => TriggerWhen::LeavesSegment { segment: segment.get_untracked() },
        };
        let trigger = Trigger {
            campaign: campaign.get_untracked().parse().ok(),
            ..Trigger::new(name.get_untracked(), when, chosen.get_untracked())
        };
        leptos::task::spawn_local(async move {
            match save_trigger(trigger).await {
                Ok(_) => {
                    status.set(Some(t(lang.get_untracked(), "triggers.saved").to_string()));
                    name.set(String::new());
                    changed.update(|n| *n += 1);
                }
                Err(e) => status.set(Some(said(lang.get_untracked(), &e))),
            }
        });
    };
    // The parameters the chosen kind takes.
    let takes = move |key: &'static str| {
        let k = kind.get();
        match key {
            "within_days" => k == "first_purchase" || k == "points_expiring",
            "days" => k == "no_purchase",
            "below" => k == "p_alive_below",
            "min_points" => k == "points_expiring",
            "next_tier" | "threshold_yuan" | "within_yuan" => k == "near_next_tier",
            _ => k.ends_with("_segment"),
        }
    };
    view! {
        <form class="rule" id="new-trigger" on:submit=submit>
            <h2>{tr("triggers.new")}</h2>
            <label>{tr("triggers.name")}
                <input name="name" type="text" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
            </label>
            <label>{tr("triggers.when")}
                <select name="kind" prop:value=move || kind.get() on:change=move |ev| kind.set(event_target_value(&ev))>
                    {KINDS.into_iter().map(|k| view! { <option value=k>{move || t(lang.get(), &format!("kind.{k}")).to_string()}</option> }).collect_view()}
                </select>
            </label>
            {params.into_iter().map(|(key, value)| view! {
                <Show when=move || takes(key)>
                    <label>{move || t(lang.get(), &format!("param.{key}")).to_string()}
                        <input name=key type="text" prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
                    </label>
                </Show>
            }).collect_view()}
            <Show when=move || takes("segment")>
                <label>{tr("param.segment")}
                    <Suspense fallback=Loading>
                        {move || Suspend::new(async move {
                            let list = segments.await.unwrap_or_default();
                            if segment.get_untracked().is_empty() && let Some(first) = list.first() {
                                segment.set(first.key.clone());
                            }
                            view! {
                                <select name="segment" prop:value=move || segment.get() on:change=move |ev| segment.set(event_target_value(&ev))>
                                    {list.into_iter().map(|s| {
                                        let shown = match lang.get_untracked() { Lang::Zh => s.name_zh.clone(), Lang::En => s.name_en.clone() };
                                        view! { <option value=s.key.clone()>{shown}</option> }
                                    }).collect_view()}
                                </select>
                            }
                        })}
                    </Suspense>
                </label>
            </Show>
            <fieldset class="channels">
                <legend>{tr("triggers.channels")}</legend>
                <Suspense fallback=Loading>
                    {move || Suspend::new(async move {
                        let list = channels.await.unwrap_or_default();
                        if list.is_empty() {
                            return view! { <span class="muted">{tr("triggers.no_channels")}</span> }.into_any();
                        }
                        list.into_iter().map(|c| {
                            let id = c.id;
                            view! {
                                <label class="check">
                                    <input type="checkbox" name="channel" value=id
                                        prop:checked=move || chosen.get().contains(&id)
                                        on:change=move |ev| {
                                            let on = event_target_checked(&ev);
                                            chosen.update(|v| { v.retain(|x| *x != id); if on { v.push(id); } });
                                        }/>
                                    {c.name.clone()}
                                </label>
                            }
                        }).collect_view().into_any()
                    })}
                </Suspense>
            </fieldset>
            <label>{tr("triggers.campaign")}
                <Suspense fallback=Loading>
                    {move || Suspend::new(async move {
                        let list = campaigns.await.unwrap_or_default();
                        view! {
                            <select name="campaign" prop:value=move || campaign.get() on:change=move |ev| campaign.set(event_target_value(&ev))>
                                <option value="">{tr("triggers.no_campaign")}</option>
                                {list.into_iter().map(|c| view! { <option value=c.id.to_string()>{c.name.clone()}</option> }).collect_view()}
                            </select>
                        }
                    })}
                </Suspense>
            </label>
            <button type="submit" id="save-trigger">{tr("triggers.save")}</button>
            {move || status.get().map(|m| view! { <p class="status" role="status" id="trigger-status">{m}</p> })}
        </form>
    }
}

/// The messaging channels, and a form to add one (admins; the server checks the URL).
#[component]
fn Channels(channels: Resource<Result<Vec<MessagingChannel>, ServerFnError>>, changed: RwSignal<u32>) -> impl IntoView {
    let lang = use_lang();
    let (name, kind, url) =
        (RwSignal::new(String::new()), RwSignal::new("webhook".to_string()), RwSignal::new(String::new()));
    let personal = RwSignal::new(false);
    let status = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let url = url.get_untracked().trim().to_string();
        let channel = match kind.get_untracked().as_str() {
            "wecom" => Channel::Wecom { url },
            "dingtalk" => Channel::Dingtalk { url },
            _ => Channel::Webhook { url },
        };
        let c =
            MessagingChannel { id: 0, name: name.get_untracked(), channel, personal_fields: personal.get_untracked() };
        leptos::task::spawn_local(async move {
            match create_messaging_channel(c).await {
                Ok(_) => {
                    status.set(Some(t(lang.get_untracked(), "channels.added").to_string()));
                    changed.update(|n| *n += 1);
                }
                Err(e) => status.set(Some(said(lang.get_untracked(), &e))),
            }
        });
    };
    view! {
        <h2>{tr("channels.title")}</h2>
        <p class="panel-note">{tr("channels.note")}</p>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                let table = Table {
                    id: "messaging-channels",
                    columns: &[
                        Col::key("triggers.name"),
                        Col::key("channels.kind"),
                        Col::key("channels.url"),
                        Col::key("channels.personal"),
                    ],
                    empty: Some(("channels.none", None)),
                };
                listed(lang.get_untracked(), channels.await, table, |c| {
                    let (kind, url) = match &c.channel {
                        Channel::Webhook { url } => ("Webhook", url.clone()),
                        Channel::Wecom { url } => ("企业微信 WeCom", url.clone()),
                        Channel::Dingtalk { url } => ("钉钉 DingTalk", url.clone()),
                        _ => ("", String::new()),
                    };
                    view! {
                        <tr data-channel=c.id>
                            <td>{c.name.clone()}</td>
                            <td>{kind}</td>
                            <td><code>{url}</code></td>
                            <td>{tr(if c.personal_fields { "yes" } else { "no" })}</td>
                        </tr>
                    }
                })
            })}
        </Suspense>
        <form class="rule" id="new-channel" on:submit=submit>
            <label>{tr("triggers.name")}
                <input name="name" type="text" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
            </label>
            <label>{tr("channels.kind")}
                <select name="kind" prop:value=move || kind.get() on:change=move |ev| kind.set(event_target_value(&ev))>
                    <option value="webhook">"Webhook"</option>
                    <option value="wecom">"企业微信 WeCom"</option>
                    <option value="dingtalk">"钉钉 DingTalk"</option>
                </select>
            </label>
            <label>{tr("channels.url")}
                <input name="url" type="url" prop:value=move || url.get() on:input=move |ev| url.set(event_target_value(&ev))/>
            </label>
            <label class="check">
                <input name="personal_fields" type="checkbox" prop:checked=move || personal.get() on:change=move |ev| personal.set(event_target_checked(&ev))/>
                {tr("channels.personal")}
            </label>
            <button type="submit" id="add-channel">{tr("channels.add")}</button>
            {move || status.get().map(|m| view! { <p class="status" role="status" id="channel-status">{m}</p> })}
        </form>
    }
}

/// The contact policy: a frequency cap across every trigger and quiet hours (admins).
#[component]
fn Policy() -> impl IntoView {
    let lang = use_lang();
    let policy = Resource::new(|| (), |_| get_contact_policy());
    let status = RwSignal::new(None::<String>);
    view! {
        <h2>{tr("policy.title")}</h2>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                let Ok(p) = policy.await else { return ().into_any() };
                let max = RwSignal::new(p.max_contacts.to_string());
                let per = RwSignal::new(p.per_days.to_string());
                let from = RwSignal::new(p.quiet_from.clone().unwrap_or_default());
                let to = RwSignal::new(p.quiet_to.clone().unwrap_or_default());
                let submit = move |ev: leptos::ev::SubmitEvent| {
                    ev.prevent_default();
                    let text = |s: RwSignal<String>| Some(s.get_untracked().trim().to_string()).filter(|v| !v.is_empty());
                    let p = ContactPolicy {
                        max_contacts: max.get_untracked().trim().parse().unwrap_or(u32::MAX),
                        per_days: per.get_untracked().trim().parse().unwrap_or(0),
                        quiet_from: text(from),
                        quiet_to: text(to),
                    };
                    leptos::task::spawn_local(async move {
                        status.set(Some(match save_contact_policy(p).await {
                            Ok(_) => t(lang.get_untracked(), "policy.saved").to_string(),
                            Err(e) => said(lang.get_untracked(), &e),
                        }));
                    });
                };
                let field = move |label: &'static str, key: &'static str, value: RwSignal<String>| view! {
                    <label>{tr(label)}
                        <input name=key type="text" prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
                    </label>
                };
                view! {
                    <form class="rule" id="contact-policy" on:submit=submit>
                        {field("policy.max", "max_contacts", max)}
                        {field("policy.per_days", "per_days", per)}
                        {field("policy.quiet_from", "quiet_from", from)}
                        {field("policy.quiet_to", "quiet_to", to)}
                        <button type="submit" id="save-policy">{tr("policy.save")}</button>
                        {move || status.get().map(|m| view! { <p class="status" role="status" id="policy-status">{m}</p> })}
                    </form>
                }.into_any()
            })}
        </Suspense>
    }
}
