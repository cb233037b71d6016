//! The saved segments on the segments page: each opens the overview and its members;
//! operators and admins rename one, change its filters or delete it (the server checks
//! the role and the filters, and audits every change).

use leptos::prelude::*;

use super::{Loading, View, use_view};
use crate::{
    api::{delete_segment, get_saved_segments, get_trend, update_segment},
    error_template::said,
    i18n::{Lang, tr, use_lang},
    model::{Metric, Role, Segment, TrendQuery},
};

#[component]
pub fn SavedSegments() -> impl IntoView {
    let view = use_view();
    let lang = use_lang();
    let role = crate::use_role();
    let changed = RwSignal::new(0u32);
    let saved = Resource::new(move || changed.get(), |_| get_saved_segments());
    let may_edit = move || role.get().is_some_and(|r| r >= Role::Operator);
    view! {
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let saved = saved.await.unwrap_or_default();
                if saved.is_empty() {
                    return view! { <p class="empty">{tr("empty")}</p> }.into_any();
                }
                view! {
                    <ul class="saved-segments">
                        {saved.into_iter().map(|s| {
                            let name = match lang.get_untracked() { Lang::Zh => s.name_zh.clone(), Lang::En => s.name_en.clone() };
                            let v = View { segment: Some(s.key.clone()), ..view.get_untracked() };
                            let key = s.key.clone();
                            view! {
                                <li data-segment=key>
                                    <a href=v.link("/", &[])>{name}</a>
                                    " · " <code>{s.filters.clone()}</code> " · "
                                    <a href=v.link("/members", &[])>{tr("members.list")}</a>
                                    <Size key=key.clone()/>
                                    <Show when=may_edit>
                                        <Editor segment=s.clone() changed/>
                                    </Show>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            })}
        </Transition>
    }
}

/// The segment's members at the end of each of the last eight 30-day windows: the latest
/// count and a sparkline (as the trend API gives them; executives see small groups
/// withheld).
#[component]
fn Size(key: String) -> impl IntoView {
    let view = use_view();
    // Asked again when T changes, not on every data push: a size over 30-day windows does
    // not need it, and a push while the list was still loading left the size blank.
    let as_of = Memo::new(move |_| view.with(|v| v.as_of.clone()));
    // A size the server could not give (busy, or the connection dropped) is asked again a
    // few times, a few seconds apart, rather than left blank.
    let retry = RwSignal::new(0u32);
    let trend = LocalResource::new(move || {
        retry.track();
        get_trend(TrendQuery {
            as_of: as_of.get(),
            window: Some("30d".into()),
            metrics: Some(Metric::Members.key().into()),
            points: Some(8),
            filters: None,
            segment: Some(key.clone()),
        })
    });
    let values = move || -> Vec<Option<f64>> {
        match trend.get() {
            Some(Ok(t)) => {
                t.series.first().map(|s| s.points.iter().map(|p| p.measure.value).collect()).unwrap_or_default()
            }
            _ => Vec::new(),
        }
    };
    Effect::new(move |_| {
        if matches!(trend.get(), Some(Err(_))) && retry.get_untracked() < 5 {
            set_timeout(move || retry.update(|n| *n += 1), std::time::Duration::from_secs(3));
        }
    });
    let latest = move || values().last().copied().flatten().map(crate::format::count);
    let option = Signal::derive(move || {
        let v = values();
        if v.is_empty() { serde_json::Value::Null } else { crate::chart::options::sparkline(&v) }
    });
    view! {
        <span class="segment-size" title=tr("segment.size_over_time")>
            " · " {tr("size")} " " <span class="size-now">{latest}</span>
            <span class="sparkline inline"><crate::chart::Chart option=option label=tr("segment.size_over_time")()/></span>
        </span>
    }
}

/// Rename, change the filters of, or delete one saved segment.
#[component]
fn Editor(segment: Segment, changed: RwSignal<u32>) -> impl IntoView {
    let lang = use_lang();
    let key = segment.key.clone();
    let (name_zh, name_en, filters) =
        (RwSignal::new(segment.name_zh), RwSignal::new(segment.name_en), RwSignal::new(segment.filters));
    let status = RwSignal::new(None::<String>);
    let save = {
        let key = key.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let s = Segment {
                key: key.clone(),
                name_zh: name_zh.get_untracked(),
                name_en: name_en.get_untracked(),
                filters: filters.get_untracked(),
            };
            leptos::task::spawn_local(async move {
                match update_segment(s).await {
                    Ok(_) => changed.update(|n| *n += 1),
                    Err(e) => status.set(Some(said(lang.get_untracked(), &e))),
                }
            });
        }
    };
    let delete = move |_| {
        let key = key.clone();
        leptos::task::spawn_local(async move {
            match delete_segment(key).await {
                Ok(()) => changed.update(|n| *n += 1),
                Err(e) => status.set(Some(said(lang.get_untracked(), &e))),
            }
        });
    };
    let field = move |label: &'static str, name: &'static str, value: RwSignal<String>| {
        view! {
            <label>{tr(label)}
                <input name=name type="text" required prop:value=move || value.get()
                    on:input=move |ev| value.set(event_target_value(&ev))/>
            </label>
        }
    };
    view! {
        <details class="segment-editor">
            <summary>{tr("segment.edit")}</summary>
            <form class="segment-edit" on:submit=save>
                {field("segment.name_zh", "name_zh", name_zh)}
                {field("segment.name_en.required", "name_en", name_en)}
                {field("filters", "filters", filters)}
                <button type="submit">{tr("segment.save.button")}</button>
                <button type="button" class="delete" on:click=delete>{tr("segment.delete")}</button>
            </form>
            {move || status.get().map(|m| view! { <p class="error" role="status">{m}</p> })}
        </details>
    }
}
