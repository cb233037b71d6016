//! Privacy (admins): the members' rights under PIPL — the access document (art. 45), an
//! erasure (art. 47), and a preview of what a retention period would strip. The server
//! refuses all of it to anyone but an admin and audits each; the page only follows.

use leptos::prelude::*;

use crate::{
    api::{erase_member, get_retention_preview, privacy_access},
    error_template::said,
    i18n::{tr, use_lang},
    model::{PrivacyRequest, RetentionPreview},
};

#[component]
pub fn PrivacyPage() -> impl IntoView {
    view! {
        <section class="privacy">
            <p class="panel-note">{tr("privacy.note")}</p>
            <Access/>
            <Erase/>
            <Retention/>
        </section>
    }
}

/// The member a request names: by id, or (`by` = `phone`) by a whole phone number (card
/// numbers are ids too, so the person asking says which).
fn request(text: &str, by: &str) -> PrivacyRequest {
    let text = Some(text.trim().to_string());
    match by {
        "phone" => PrivacyRequest { phone: text, ..Default::default() },
        _ => PrivacyRequest { member_id: text, ..Default::default() },
    }
}

/// A labelled text input bound to `value`.
fn field(label: &'static str, name: &'static str, value: RwSignal<String>) -> impl IntoView {
    view! {
        <label>{tr(label)}
            <input name=name type="text" required prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
        </label>
    }
}

/// Whether the member is named by id or by phone, bound to `by`.
fn named_by(by: RwSignal<String>) -> impl IntoView {
    view! {
        <label>{tr("privacy.by")}
            <select name="by" prop:value=move || by.get() on:change=move |ev| by.set(event_target_value(&ev))>
                <option value="id">{tr("privacy.by_id")}</option>
                <option value="phone">{tr("privacy.by_phone")}</option>
            </select>
        </label>
    }
}

#[component]
fn Access() -> impl IntoView {
    let lang = use_lang();
    let (who, by) = (RwSignal::new(String::new()), RwSignal::new("id".to_string()));
    let document = RwSignal::new(None::<Result<String, String>>);
    let ask = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let req = request(&who.get_untracked(), &by.get_untracked());
        leptos::task::spawn_local(async move {
            document.set(Some(privacy_access(req).await.map_err(|e| said(lang.get_untracked(), &e))));
        });
    };
    view! {
        <h2>{tr("privacy.access")}</h2>
        <form class="privacy-access" id="privacy-access" on:submit=ask>
            {named_by(by)}
            {field("privacy.member", "member", who)}
            <button type="submit">{tr("privacy.show")}</button>
        </form>
        {move || document.get().map(|d| match d {
            Ok(json) => view! { <pre class="document" id="access-document">{json}</pre> }.into_any(),
            Err(m) => view! { <p class="error" role="status">{m}</p> }.into_any(),
        })}
    }
}

#[component]
fn Erase() -> impl IntoView {
    let lang = use_lang();
    let (who, reason, sure) = (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(false));
    let by = RwSignal::new("id".to_string());
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let erase = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let req = PrivacyRequest {
            reason: Some(reason.get_untracked()),
            ..request(&who.get_untracked(), &by.get_untracked())
        };
        leptos::task::spawn_local(async move {
            let done = erase_member(req).await;
            if done.is_ok() {
                who.set(String::new());
                sure.set(false);
            }
            outcome.set(Some(done.map(|r| r.pseudonym).map_err(|e| said(lang.get_untracked(), &e))));
        });
    };
    view! {
        <h2>{tr("privacy.erase")}</h2>
        <p class="panel-note">{tr("privacy.erase_note")}</p>
        <form class="privacy-erase" id="privacy-erase" on:submit=erase>
            {named_by(by)}
            {field("privacy.member", "member", who)}
            {field("privacy.reason", "reason", reason)}
            <label class="confirm">
                <input type="checkbox" name="sure" required prop:checked=move || sure.get() on:change=move |ev| sure.set(event_target_checked(&ev))/>
                {tr("privacy.sure")}
            </label>
            <button type="submit" class="danger">{tr("privacy.erase_button")}</button>
        </form>
        {move || outcome.get().map(|o| match o {
            Ok(pseudonym) => view! { <p class="saved" role="status">{tr("privacy.erased")} " " <code id="pseudonym">{pseudonym}</code></p> }.into_any(),
            Err(m) => view! { <p class="error" role="status">{m}</p> }.into_any(),
        })}
    }
}

#[component]
fn Retention() -> impl IntoView {
    let lang = use_lang();
    let days = RwSignal::new(String::new());
    let preview = RwSignal::new(None::<Result<RetentionPreview, String>>);
    let ask = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = days.get_untracked();
        let wanted = text.trim().parse::<u32>().ok();
        leptos::task::spawn_local(async move {
            let answer = get_retention_preview(wanted).await;
            preview.set(Some(answer.map_err(|e| said(lang.get_untracked(), &e))));
        });
    };
    view! {
        <h2>{tr("privacy.retention")}</h2>
        <p class="panel-note">{tr("privacy.retention_note")}</p>
        <form class="privacy-retention" id="privacy-retention" on:submit=ask>
            <label>{tr("privacy.days")}
                <input name="days" type="number" min="1" max="36500" prop:value=move || days.get() on:input=move |ev| days.set(event_target_value(&ev))/>
            </label>
            <button type="submit">{tr("privacy.preview")}</button>
        </form>
        {move || preview.get().map(|p| match p {
            Ok(p) => view! {
                <p class="saved" role="status" id="retention-preview" data-members=p.members>
                    {tr("privacy.would_strip")} " " <strong>{p.members}</strong> " · "
                    {tr("privacy.cutoff")} " " {p.cutoff.clone()} " · "
                    {match p.configured_days {
                        Some(d) => view! { {tr("privacy.job_on")} " " {d} }.into_any(),
                        None => view! { {tr("privacy.job_off")} }.into_any(),
                    }}
                </p>
            }.into_any(),
            Err(m) => view! { <p class="error" role="status">{m}</p> }.into_any(),
        })}
    }
}
