//! "Save as segment": the filters of the view on screen kept as a saved segment under a key
//! and names, from any filtered page (operators and admins; the server checks the role and
//! the filters, and audits the change). A view that already narrows a saved segment keeps
//! its chips only: the combination is saved by editing that segment.

use leptos::prelude::*;

use super::{use_param, use_view};
use crate::{
    api::create_segment,
    error_template::said,
    i18n::{tr, use_lang},
    model::{Role, Segment},
};

#[component]
pub fn SaveSegment() -> impl IntoView {
    let view = use_view();
    let lang = use_lang();
    let role = crate::use_role();
    // A look-up is not a segment: the form hides while `find` narrows the list.
    let find = use_param("find");
    let (key, name_zh, name_en) =
        (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()));
    let status = RwSignal::new(None::<Result<String, String>>);
    let shown = move || {
        let v = view.get();
        role.get().is_some_and(|r| r >= Role::Operator)
            && v.segment.is_none()
            && find.get().is_none()
            && !v.filter_parts().is_empty()
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let zh = name_zh.get_untracked();
        let en = name_en.get_untracked();
        let segment = Segment {
            key: key.get_untracked().trim().to_string(),
            name_en: if en.trim().is_empty() { zh.clone() } else { en },
            name_zh: zh,
            filters: view.get_untracked().filters.unwrap_or_default(),
        };
        leptos::task::spawn_local(async move {
            status.set(Some(match create_segment(segment).await {
                Ok(s) => Ok(s.key),
                Err(e) => Err(said(lang.get_untracked(), &e)),
            }));
        });
    };
    let field = move |label: &'static str, name: &'static str, value: RwSignal<String>, required: bool| {
        view! {
            <label>{tr(label)}
                <input name=name type="text" required=required maxlength="64"
                    prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
            </label>
        }
    };
    // Inside a Suspense: the role comes from a resource (the signed-in viewer).
    view! {
        <Suspense>
        <Show when=shown>
            <details class="save-segment">
                <summary>{tr("segment.save")}</summary>
                <form id="save-segment" on:submit=save>
                    {field("segment.key", "key", key, true)}
                    {field("segment.name_zh", "name_zh", name_zh, true)}
                    {field("segment.name_en", "name_en", name_en, false)}
                    <button type="submit">{tr("segment.save.button")}</button>
                </form>
                {move || status.get().map(|r| match r {
                    Ok(k) => view! {
                        <p class="saved" role="status" data-saved=k.clone()>{tr("segment.saved")} " "
                            <a href=format!("/members?segment={}", crate::format::url_encode(&k))>{tr("members.list")}</a></p>
                    }.into_any(),
                    Err(m) => view! { <p class="error" role="status">{m}</p> }.into_any(),
                })}
            </details>
        </Show>
        </Suspense>
    }
}
