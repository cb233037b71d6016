//! MemberPulse UI: pages, server functions and the types shared with the server.
//!
//! Compiled twice: with `ssr` into the server binary, with `hydrate` into the
//! WebAssembly bundle that makes the server-rendered pages interactive.

pub mod api;
pub mod chart;
pub mod error_template;
pub mod format;
pub mod model;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod state;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    StaticSegment,
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
    // Effects run only in the browser: this marks the page as hydrated (tests wait for it).
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/memberpulse.css"/>
        <Title text="MemberPulse 会员健康"/>
        <Router>
            <header class="topbar">
                <a class="brand" href="/">"MemberPulse"<span class="brand-sub">" 会员健康"</span></a>
                <nav class="nav" aria-label="页面 · Pages">
                    <a href="/">"概览 · Overview"</a>
                    <a href="/model">"预测模型 · Model"</a>
                </nav>
            </header>
            <main class="page">
                <Routes fallback=|| view! { <p class="empty">"页面不存在 · Page not found"</p> }>
                    <Route path=StaticSegment("") view=pages::overview::OverviewPage/>
                    <Route path=StaticSegment("model") view=pages::model::ModelPage/>
                </Routes>
            </main>
        </Router>
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
