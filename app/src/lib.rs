//! MemberPulse UI: pages, server functions and the types shared with the server.
//!
//! Compiled twice: with `ssr` into the server binary, with `hydrate` into the
//! WebAssembly bundle that makes the server-rendered pages interactive.

pub mod api;
pub mod chart;
pub mod error_template;
pub mod format;
pub mod i18n;
pub mod live;
pub mod model;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod state;

use leptos::prelude::*;
use leptos_meta::{Html, MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    ParamSegment, StaticSegment,
    components::{Route, Router, Routes},
};

/// The HTML document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="zh-CN">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                // Apache ECharts from npm (scripts/setup.sh copies it into the site).
                <script defer src="/vendor/echarts.min.js"></script>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    i18n::provide_language();
    live::provide_live_alerts();
    let lang = i18n::use_lang();
    // Effects run only in the browser: this marks the page as hydrated (tests wait for it).
    // It also records when (ms since navigation start), for the speed figure.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            #[cfg(feature = "hydrate")]
            {
                let at = window().performance().map(|p| p.now()).unwrap_or_default();
                let _ = body.set_attribute("data-hydrated-at", &format!("{at:.0}"));
            }
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Html attr:lang=move || lang.get().code()/>
        <Stylesheet id="leptos" href="/pkg/memberpulse.css"/>
        <Title text="MemberPulse 会员健康"/>
        <Router>
            <TopBar/>
            <main class="page">
                <Routes fallback=|| view! { <p class="empty">{i18n::tr("not_found")}</p> }>
                    <Route path=StaticSegment("") view=pages::overview::OverviewPage/>
                    <Route path=StaticSegment("breakdown") view=pages::breakdown::BreakdownPage/>
                    <Route path=StaticSegment("segments") view=pages::segments::SegmentsPage/>
                    <Route path=StaticSegment("members") view=pages::members::MembersPage/>
                    <Route path=(StaticSegment("members"), ParamSegment("id")) view=pages::member::MemberPage/>
                    <Route path=StaticSegment("model") view=pages::model::ModelPage/>
                    <Route path=StaticSegment("alerts") view=pages::alerts::AlertsPage/>
                </Routes>
            </main>
        </Router>
    }
}

/// The brand, the pages (keeping the view's as-of, window and filters) and the language.
#[component]
fn TopBar() -> impl IntoView {
    use i18n::{Lang, tr};
    let lang = i18n::use_lang();
    let view = pages::use_view();
    let location = leptos_router::hooks::use_location();
    let live_alerts = live::use_live_alerts();
    let item = move |path: &'static str, key: &'static str| {
        let current = move || {
            let here = location.pathname.get();
            let on = if path == "/" { here == "/" } else { here.starts_with(path) };
            on.then_some("page")
        };
        view! { <a href=move || view.get().link(path, &[]) aria-current=current>{tr(key)}</a> }
    };
    view! {
        <header class="topbar">
            <a class="brand" href="/">"MemberPulse"<span class="brand-sub">" " {tr("brand.sub")}</span></a>
            <nav class="nav" aria-label="MemberPulse">
                {item("/", "nav.overview")}
                {item("/breakdown", "nav.breakdown")}
                {item("/segments", "nav.segments")}
                {item("/members", "nav.members")}
                {item("/model", "nav.model")}
            </nav>
            <a class="alert-badge" id="alert-badge" href="/alerts"
                data-count=move || live_alerts.get().map(|l| l.len()).unwrap_or(0)
                class:hot=move || live_alerts.get().is_some_and(|l| l.iter().any(|a| a.state == "firing"))>
                {tr("alerts")} " "
                <span class="count">{move || live_alerts.get().map(|l| l.len().to_string()).unwrap_or_default()}</span>
            </a>
            <button
                type="button"
                id="lang-switch"
                class="lang"
                on:click=move |_| i18n::set_lang(if lang.get_untracked() == Lang::Zh { Lang::En } else { Lang::Zh })
            >
                {tr("lang.switch")}
            </button>
        </header>
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
