//! The alert centre: open alerts and their history, filtered by state and severity (in the
//! URL); acknowledge, snooze for an hour, resolve; from an alert, its drill-down with the
//! members behind it. The list follows the live stream, so new firings appear unasked.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use super::{Loading, use_param};
use crate::{
    api::{act_on_alert, get_alerts},
    error_template::{ErrorTemplate, said},
    format,
    i18n::{t, tr, use_lang},
    live::use_live_alerts,
    model::{AlertEvent, AlertQuery},
};

const STATES: [&str; 6] = ["open", "firing", "acknowledged", "snoozed", "resolved", "all"];

#[component]
pub fn AlertsPage() -> impl IntoView {
    let state = use_param("state");
    let severity = use_param("severity");
    let live = use_live_alerts();
    let changed = RwSignal::new(0u32);
    let data = Resource::new(
        move || {
            // Reload when the stream or an action says something changed (a source equal
            // to the last one fetches nothing, hence the marks).
            let marks: Vec<(i64, String, String)> =
                live.get().unwrap_or_default().into_iter().map(|a| (a.id, a.state, a.updated_at)).collect();
            let query = AlertQuery {
                state: Some(state.get().unwrap_or_else(|| "open".into())).filter(|s| s != "all"),
                severity: severity.get(),
                rule_id: None,
                limit: Some(200),
            };
            (query, changed.get(), marks)
        },
        |(query, _, _)| get_alerts(query),
    );
    let navigate = use_navigate();
    let lang = use_lang();
    let nav_state = navigate.clone();
    let link = move |state: Option<String>, severity: Option<String>| {
        format::link("/alerts", &[("state", state), ("severity", severity)])
    };
    view! {
        <section class="alerts">
            <h1 class="page-title">{tr("alerts")}</h1>
            <div class="toolbar" role="group" aria-label=tr("filters")>
                <label>
                    {tr("alert.state")}
                    <select
                        id="alert-state"
                        prop:value=move || state.get().unwrap_or_else(|| "open".into())
                        on:change=move |ev| nav_state(&link(Some(event_target_value(&ev)), severity.get_untracked()), Default::default())
                    >
                        {STATES.iter().map(|s| view! { <option value=*s>{move || t(lang.get(), s).to_string()}</option> }).collect_view()}
                    </select>
                </label>
                <label>
                    {tr("alert.severity")}
                    <select
                        id="alert-severity"
                        prop:value=move || severity.get().unwrap_or_default()
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            navigate(&link(state.get_untracked(), (!v.is_empty()).then_some(v)), Default::default())
                        }
                    >
                        <option value="">{tr("all")}</option>
                        <option value="critical">"critical"</option>
                        <option value="warning">"warning"</option>
                        <option value="info">"info"</option>
                    </select>
                </label>
            </div>
            <Transition fallback=Loading>
                <ErrorBoundary fallback=|errors| view! { <ErrorTemplate errors=errors/> }>
                    {move || Suspend::new(async move {
                        data.await.map(|list| {
                            if list.is_empty() {
                                return view! { <p class="empty">{tr("alerts.none")}</p> }.into_any();
                            }
                            view! {
                                <table class="data alert-list">
                                    <thead><tr>
                                        <th scope="col">{tr("alert.rule")}</th>
                                        <th scope="col">{tr("alert.state")}</th>
                                        <th scope="col">{tr("value")}</th>
                                        <th scope="col">{tr("members")}</th>
                                        <th scope="col">{tr("when")}</th>
                                        <th scope="col"></th>
                                    </tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|a| view! { <AlertRow alert=a changed=changed/> }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any()
                        })
                    })}
                </ErrorBoundary>
            </Transition>
            <RulesPanel/>
        </section>
    }
}

/// `value (comparison threshold)` as shown.
pub fn describe(a: &AlertEvent) -> String {
    let v = a
        .value
        .map_or("—".to_string(), |v| format!("{v:.4}").trim_end_matches('0').trim_end_matches('.').to_string());
    let unit = if a.comparison.ends_with("_pct") { "%" } else { "" };
    format!("{v} ({} {}{unit})", a.comparison, a.threshold)
}

#[component]
fn AlertRow(alert: AlertEvent, changed: RwSignal<u32>) -> impl IntoView {
    let lang = use_lang();
    let id = alert.id;
    let act = move |action: &'static str| {
        leptos::task::spawn_local(async move {
            let minutes = (action == "snooze").then_some(60);
            if act_on_alert(id, action.to_string(), minutes).await.is_ok() {
                changed.update(|n| *n += 1);
            }
        });
    };
    let open = alert.state != "resolved";
    let members = alert.members_total.map(|n| format::count(n as f64)).unwrap_or_else(|| "—".into());
    let state_key: &'static str = match alert.state.as_str() {
        "firing" => "firing",
        "acknowledged" => "acknowledged",
        "snoozed" => "snoozed",
        _ => "resolved",
    };
    view! {
        <tr data-alert=id data-state=alert.state.clone() class=format!("severity-{}", alert.severity)>
            <td><span class="severity">{alert.severity.clone()}</span> " " {alert.rule_name.clone()}</td>
            <td class="state">{move || t(lang.get(), state_key).to_string()}
                {alert.snoozed_until.clone().map(|u| format!(" → {u}"))}</td>
            <td class="num">{describe(&alert)}</td>
            <td class="num">{members}</td>
            <td>{alert.opened_at.clone()}</td>
            <td class="actions">
                <a class="drill" href=alert.link.clone()>{tr("alert.drill")}</a>
                {open.then(|| view! {
                    " · " <button type="button" class="ack" on:click=move |_| act("acknowledge")>{tr("alert.ack")}</button>
                    " " <button type="button" class="snooze" on:click=move |_| act("snooze")>{tr("alert.snooze")}</button>
                    " " <button type="button" class="resolve" on:click=move |_| act("resolve")>{tr("alert.resolve")}</button>
                })}
            </td>
        </tr>
    }
}

/// The open alerts, live, for the overview.
#[component]
pub fn FiringPanel() -> impl IntoView {
    let live = use_live_alerts();
    view! {
        <article class="panel wide firing">
            <header class="panel-head">
                <h2>{tr("alerts.firing")}</h2>
                <a class="panel-link" href="/alerts">{tr("alerts")} " →"</a>
            </header>
            {move || match live.get() {
                None => view! { <p class="loading" role="status">{tr("loading")}</p> }.into_any(),
                Some(list) if list.is_empty() => view! { <p class="empty">{tr("alerts.none")}</p> }.into_any(),
                Some(list) => view! {
                    <ul class="firing-list">
                        {list.into_iter().take(6).map(|a| view! {
                            <li data-alert=a.id class=format!("severity-{}", a.severity)>
                                <span class="severity">{a.severity.clone()}</span> " "
                                <a href=a.link.clone()>{a.rule_name.clone()}</a> " · " {describe(&a)}
                                {a.members_total.map(|n| format!(" · {n}"))}
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </article>
    }
}

/// The rules: each editable in place, and a form for a new one. A rule the server
/// refuses shows its message (which names the field).
#[component]
pub fn RulesPanel() -> impl IntoView {
    let saved = RwSignal::new(0u32);
    let rules = Resource::new(move || saved.get(), |_| crate::api::get_alert_rules());
    view! {
        <h2 class="section-title">{tr("alert.rules")}</h2>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let list = rules.await.unwrap_or_default();
                view! {
                    <div class="rules">
                        {list.into_iter().map(|r| view! { <RuleForm rule=r saved=saved/> }).collect_view()}
                        <RuleForm rule=blank_rule() saved=saved/>
                    </div>
                }
            })}
        </Transition>
    }
}

fn blank_rule() -> crate::model::AlertRule {
    crate::model::AlertRule {
        id: 0,
        name: String::new(),
        metric: "churn_rate".into(),
        segment: None,
        comparison: "above".into(),
        threshold: 0.3,
        window_days: 30,
        schedule_minutes: 1440,
        severity: "warning".into(),
        channels: vec![],
        renotify_minutes: 10080,
        enabled: true,
    }
}

#[component]
fn RuleForm(rule: crate::model::AlertRule, saved: RwSignal<u32>) -> impl IntoView {
    use crate::model::Metric;
    let lang = use_lang();
    let is_new = rule.id == 0;
    let id = rule.id;
    let (name, metric, comparison, threshold, window, severity, segment, renotify, enabled, channels) = (
        RwSignal::new(rule.name.clone()),
        RwSignal::new(rule.metric.clone()),
        RwSignal::new(rule.comparison.clone()),
        RwSignal::new(rule.threshold.to_string()),
        RwSignal::new(rule.window_days.to_string()),
        RwSignal::new(rule.severity.clone()),
        RwSignal::new(rule.segment.clone().unwrap_or_default()),
        RwSignal::new(rule.renotify_minutes.to_string()),
        RwSignal::new(rule.enabled),
        RwSignal::new(serde_json::to_string(&rule.channels).unwrap_or_else(|_| "[]".into())),
    );
    let message = RwSignal::new(None::<(bool, String)>);
    let schedule = rule.schedule_minutes;
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let parsed = (|| -> Result<crate::model::AlertRule, String> {
            Ok(crate::model::AlertRule {
                id,
                name: name.get_untracked(),
                metric: metric.get_untracked(),
                segment: Some(segment.get_untracked()).filter(|s| !s.trim().is_empty()),
                comparison: comparison.get_untracked(),
                threshold: threshold
                    .get_untracked()
                    .trim()
                    .parse()
                    .map_err(|_| "threshold: expected a number".to_string())?,
                window_days: window
                    .get_untracked()
                    .trim()
                    .parse()
                    .map_err(|_| "window_days: expected whole days".to_string())?,
                schedule_minutes: schedule,
                severity: severity.get_untracked(),
                channels: serde_json::from_str(&channels.get_untracked()).map_err(|e| format!("channels: {e}"))?,
                renotify_minutes: renotify
                    .get_untracked()
                    .trim()
                    .parse()
                    .map_err(|_| "renotify_minutes: expected whole minutes".to_string())?,
                enabled: enabled.get_untracked(),
            })
        })();
        match parsed {
            Err(e) => message.set(Some((false, e))),
            Ok(rule) => leptos::task::spawn_local(async move {
                match crate::api::save_alert_rule(rule).await {
                    Ok(_) => {
                        message.set(Some((true, t(lang.get_untracked(), "alert.saved").to_string())));
                        // A new rule joins the list (this blank form starts over); an edited
                        // one stays where it is, with its message.
                        if is_new {
                            saved.update(|n| *n += 1);
                        }
                    }
                    Err(e) => message.set(Some((false, said(lang.get_untracked(), &e)))),
                }
            }),
        }
    };
    let input = |label: &'static str, field: &'static str, value: RwSignal<String>| {
        view! {
            <label>{tr(label)}
                <input name=field prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
            </label>
        }
    };
    view! {
        <form class="rule" class:new=is_new data-rule=id on:submit=submit>
            {input("alert.rule", "name", name)}
            <label>{tr("metric")}
                <select name="metric" prop:value=move || metric.get() on:change=move |ev| metric.set(event_target_value(&ev))>
                    {Metric::ALL.iter().map(|&m| view! { <option value=m.key()>{move || lang.get().pick(m.name()).to_string()}</option> }).collect_view()}
                </select>
            </label>
            <label>{tr("alert.comparison")}
                <select name="comparison" prop:value=move || comparison.get() on:change=move |ev| comparison.set(event_target_value(&ev))>
                    {["above", "below", "drop_pct", "rise_pct"].iter().map(|c| view! { <option value=*c>{*c}</option> }).collect_view()}
                </select>
            </label>
            {input("alert.threshold", "threshold", threshold)}
            {input("window", "window_days", window)}
            <label>{tr("alert.severity")}
                <select name="severity" prop:value=move || severity.get() on:change=move |ev| severity.set(event_target_value(&ev))>
                    {["info", "warning", "critical"].iter().map(|c| view! { <option value=*c>{*c}</option> }).collect_view()}
                </select>
            </label>
            {input("segment", "segment", segment)}
            {input("alert.renotify", "renotify_minutes", renotify)}
            <label class="wide">{tr("alert.channels")}
                <input name="channels" prop:value=move || channels.get() on:input=move |ev| channels.set(event_target_value(&ev))/>
            </label>
            <label class="check">
                <input type="checkbox" name="enabled" prop:checked=move || enabled.get() on:change=move |ev| enabled.set(event_target_checked(&ev))/>
                {tr("alert.enabled")}
            </label>
            <button type="submit">{move || t(lang.get(), if is_new { "alert.create" } else { "alert.save" }).to_string()}</button>
            {move || message.get().map(|(ok, m)| view! { <p class=if ok { "saved" } else { "error" } role="status">{m}</p> })}
        </form>
    }
}
