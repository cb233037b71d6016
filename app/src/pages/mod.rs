//! The pages, and what they share: the view state every page keeps in its URL (as-of,
//! window, comparison, filters, segment), the controls that change it and the filter
//! chips. Links are plain `<a href>`s, so every view can be pasted, bookmarked and
//! reached with the back button.

pub mod admin;
pub mod alerts;
pub mod breakdown;
pub mod campaigns;
pub mod identity;
pub mod list;
pub mod loads;
pub mod member;
pub mod members;
pub mod model;
pub mod overview;
pub mod privacy;
pub mod rfm_rules;
pub mod save_segment;
pub mod saved_segments;
pub mod segments;
pub mod signin;
pub mod tiers;
pub mod triggers;

use leptos::prelude::*;
use leptos_router::{hooks::use_query_map, params::ParamsMap};

use crate::{
    format,
    i18n::{t, tr, use_lang},
};

/// The state every view shares, as the URL holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct View {
    pub as_of: Option<String>,
    pub window: Option<String>,
    pub compare: Option<String>,
    pub filters: Option<String>,
    pub segment: Option<String>,
    /// Not in the URL: the data's version as last pushed by the server. Every resource
    /// keyed on the view fetches again when new data lands.
    pub data: u64,
}

impl View {
    pub fn from_query(q: &ParamsMap) -> View {
        let get = |k: &str| q.get(k).filter(|v| !v.is_empty());
        View {
            as_of: get("as_of"),
            window: get("window"),
            compare: get("compare"),
            filters: get("filters"),
            segment: get("segment"),
            data: 0,
        }
    }

    pub fn params(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("as_of", self.as_of.clone()),
            ("window", self.window.clone()),
            ("compare", self.compare.clone()),
            ("filters", self.filters.clone()),
            ("segment", self.segment.clone()),
        ]
    }

    /// A link to `path` with this view and `extra` parameters.
    pub fn link(&self, path: &str, extra: &[(&'static str, Option<String>)]) -> String {
        let mut params = self.params();
        params.extend(extra.iter().cloned());
        format::link(path, &params)
    }

    /// The filter parts (`dimension:value|value` or `measure:min..max`).
    pub fn filter_parts(&self) -> Vec<String> {
        self.filters
            .as_deref()
            .unwrap_or("")
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// This view narrowed to `key:value` (replacing an earlier filter on `key`).
    pub fn with_filter(&self, key: &str, value: &str) -> View {
        let mut parts: Vec<String> =
            self.filter_parts().into_iter().filter(|p| p.split(':').next() != Some(key)).collect();
        parts.push(format!("{key}:{value}"));
        View { filters: Some(parts.join(";")), ..self.clone() }
    }

    /// This view without one filter part.
    pub fn without(&self, part: &str) -> View {
        let parts: Vec<String> = self.filter_parts().into_iter().filter(|p| p != part).collect();
        View { filters: (!parts.is_empty()).then(|| parts.join(";")), ..self.clone() }
    }
}

/// The view of the current URL and the data's version, reactive.
pub fn use_view() -> Memo<View> {
    let q = use_query_map();
    let data = crate::live::use_data_version();
    Memo::new(move |_| View { data: data.get(), ..q.with(View::from_query) })
}

/// A query parameter of the current URL beyond the view's, reactive.
pub fn use_param(name: &'static str) -> Memo<Option<String>> {
    let q = use_query_map();
    Memo::new(move |_| q.with(|q| q.get(name).filter(|v| !v.is_empty())))
}

const WINDOWS: [&str; 4] = ["7d", "30d", "90d", "365d"];

/// As-of, window and comparison pickers; each change writes the URL of `path`.
#[component]
pub fn Toolbar(
    path: &'static str,
    /// The as-of date the data resolved to, shown when the URL has none.
    #[prop(into)]
    resolved_as_of: Signal<Option<String>>,
    #[prop(default = true)] windows: bool,
) -> impl IntoView {
    let view = use_view();
    let navigate = leptos_router::hooks::use_navigate();
    let go = move |change: &dyn Fn(&mut View)| {
        let mut v = view.get_untracked();
        change(&mut v);
        // Other parameters of the page (dimension, sort, …) stay; paging starts over.
        let q = use_query_map().get_untracked();
        let mut extra: Vec<(&'static str, Option<String>)> = Vec::new();
        for k in ["metric", "dimension", "sort", "trend", "days"] {
            extra.push((k, q.get(k)));
        }
        navigate(&v.link(path, &extra), Default::default());
    };
    let go_as_of = go.clone();
    let go_window = go.clone();
    let lang = use_lang();
    view! {
        <div class="toolbar" role="group" aria-label=tr("window")>
            <label>
                {tr("as_of")}
                <input
                    type="date"
                    id="as-of"
                    prop:value=move || view.get().as_of.or_else(|| resolved_as_of.get()).unwrap_or_default()
                    on:change=move |ev| {
                        let d = event_target_value(&ev);
                        go_as_of(&move |v: &mut View| v.as_of = Some(d.clone()))
                    }
                />
            </label>
            {windows.then(|| view! {
                <label>
                    {tr("window")}
                    <select
                        id="window"
                        prop:value=move || view.get().window.unwrap_or_else(|| "30d".into())
                        on:change=move |ev| {
                            let w = event_target_value(&ev);
                            go_window(&move |v: &mut View| v.window = Some(w.clone()))
                        }
                    >
                        {WINDOWS
                            .iter()
                            .map(|w| {
                                let key = match *w { "7d" => "window.7d", "30d" => "window.30d", "90d" => "window.90d", _ => "window.365d" };
                                view! { <option value=*w>{move || t(lang.get(), key).to_string()}</option> }
                            })
                            .collect_view()}
                    </select>
                </label>
                <label>
                    {tr("compare")}
                    <select
                        id="compare"
                        prop:value=move || view.get().compare.unwrap_or_else(|| "previous".into())
                        on:change={
                            let go = go.clone();
                            move |ev| {
                                let c = event_target_value(&ev);
                                go(&move |v: &mut View| v.compare = Some(c.clone()))
                            }
                        }
                    >
                        <option value="previous">{tr("compare.previous")}</option>
                        <option value="year">{tr("compare.year")}</option>
                    </select>
                </label>
            })}
        </div>
    }
}

/// The view's filters and segment as chips, each with a link that removes it.
#[component]
pub fn FilterChips(path: &'static str) -> impl IntoView {
    let view = use_view();
    let q = use_query_map();
    let keep = move || {
        let q = q.get();
        ["metric", "dimension", "sort", "trend"].into_iter().map(|k| (k, q.get(k))).collect::<Vec<_>>()
    };
    view! {
        <div class="chips" aria-label=tr("filters")>
            {move || {
                let v = view.get();
                let parts = v.filter_parts();
                let segment = v.segment.clone();
                if parts.is_empty() && segment.is_none() {
                    return view! { <span class="chip muted">{tr("filters.none")}</span> }.into_any();
                }
                let extra = keep();
                let chips = parts
                    .into_iter()
                    .map(|p| {
                        let href = v.without(&p).link(path, &extra);
                        view! {
                            <span class="chip" data-filter=p.clone()>
                                {p.clone()}
                                <a class="chip-x" href=href aria-label=tr("filter.remove")>"×"</a>
                            </span>
                        }
                    })
                    .collect_view();
                let seg = segment.map(|s| {
                    let href = View { segment: None, ..v.clone() }.link(path, &extra);
                    view! {
                        <span class="chip segment" data-segment=s.clone()>
                            {tr("segment")} ": " {s.clone()}
                            <a class="chip-x" href=href aria-label=tr("filter.remove")>"×"</a>
                        </span>
                    }
                });
                view! { {chips} {seg} }.into_any()
            }}
        </div>
    }
}

/// A column header's `aria-sort` for the order `sort` (`key` or `-key`).
pub fn sort_state(sort: &str, key: &str) -> &'static str {
    match sort.strip_prefix('-') {
        Some(k) if k == key => "descending",
        None if sort == key => "ascending",
        _ => "none",
    }
}

/// A loading line for a Suspense fallback.
#[component]
pub fn Loading() -> impl IntoView {
    view! { <p class="loading" role="status">{tr("loading")}</p> }
}
