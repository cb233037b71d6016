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

/// The Content-Security-Policy of a page: only scripts carrying this response's nonce
/// (and what they load: the wasm, the chart library) run; no framing by other sites.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The HTML document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let nonce = leptos::nonce::use_nonce();
    #[cfg(feature = "ssr")]
    if let (Some(n), Some(response)) = (&nonce, use_context::<leptos_axum::ResponseOptions>())
        && let Ok(csp) = http::HeaderValue::from_str(&content_security_policy(n))
    {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, csp);
    }
    view! {
        <!DOCTYPE html>
        // `lang` comes from <Html> in App (the reader's language).
        <html>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                // Apache ECharts from npm (scripts/setup.sh copies it into the site), run
                // whenever it has loaded — while the wasm compiles, not before it starts
                // (charts wait for it: `chart::browser`).
                <script async id=chart::SCRIPT_ID src="/vendor/echarts.min.js" nonce=nonce></script>
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
    provide_viewer();
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
                    <Route path=StaticSegment("tiers") view=pages::tiers::TiersPage/>
                    <Route path=StaticSegment("model") view=pages::model::ModelPage/>
                    <Route path=StaticSegment("alerts") view=pages::alerts::AlertsPage/>
                    <Route path=StaticSegment("admin") view=pages::admin::AdminPage/>
                    <Route path=StaticSegment("loads") view=pages::loads::LoadsPage/>
                    <Route path=StaticSegment("privacy") view=pages::privacy::PrivacyPage/>
                    <Route path=StaticSegment("identity") view=pages::identity::IdentityPage/>
                    <Route path=StaticSegment("campaigns") view=pages::campaigns::CampaignsPage/>
                    <Route path=(StaticSegment("campaigns"), ParamSegment("id")) view=pages::campaigns::CampaignPage/>
                    <Route path=StaticSegment("triggers") view=pages::triggers::TriggersPage/>
                    <Route path=StaticSegment("signin") view=pages::signin::SignInPage/>
                </Routes>
            </main>
        </Router>
    }
}

/// Who is signed in (none on the sign-in page), fetched once with the page.
#[derive(Clone, Copy)]
pub struct SignedIn(pub Resource<Option<model::Viewer>>);

fn provide_viewer() {
    let viewer = Resource::new(|| (), |_| async { api::get_viewer().await.ok().flatten() });
    provide_context(SignedIn(viewer));
}

/// The signed-in viewer's role (none while loading or when signed out).
pub fn use_role() -> Signal<Option<model::Role>> {
    let viewer = expect_context::<SignedIn>().0;
    Signal::derive(move || viewer.get().flatten().map(|v| v.role))
}

/// The brand, the pages the viewer's role may open (keeping the view's as-of, window and
/// filters), who is signed in with a sign-out button, and the language.
#[component]
fn TopBar() -> impl IntoView {
    use i18n::{Lang, tr};
    use model::Role;
    let lang = i18n::use_lang();
    let viewer = expect_context::<SignedIn>().0;
    let role = use_role();
    let may = move |least: Role| role.get().is_some_and(|r| r >= least);
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
            <Suspense>
            <Show when=move || role.get().is_some()>
            <nav class="nav" aria-label="MemberPulse">
                {item("/", "nav.overview")}
                {item("/breakdown", "nav.breakdown")}
                {item("/segments", "nav.segments")}
                {item("/tiers", "nav.tiers")}
                <Show when=move || may(Role::Operator)>{item("/members", "nav.members")}</Show>
                {item("/model", "nav.model")}
                {item("/campaigns", "nav.campaigns")}
                <Show when=move || may(Role::Operator)>{item("/triggers", "nav.triggers")}</Show>
                <Show when=move || may(Role::Admin)>{item("/loads", "nav.loads")}</Show>
                <Show when=move || may(Role::Admin)>{item("/admin", "nav.admin")}</Show>
                <Show when=move || may(Role::Admin)>{item("/privacy", "nav.privacy")}</Show>
                <Show when=move || may(Role::Admin)>{item("/identity", "nav.identity")}</Show>
            </nav>
            // Find a member by id or whole phone number (operators and admins; audited).
            <Show when=move || may(Role::Operator)>
                <form class="find" method="get" action="/members" role="search">
                    <input type="search" name="find" id="find-member" maxlength="64" autocomplete="off"
                        aria-label=tr("find.label") placeholder=tr("find.placeholder")/>
                </form>
            </Show>
            </Show>
            </Suspense>
            <a class="alert-badge" id="alert-badge" href="/alerts"
                data-count=move || live_alerts.get().map(|l| l.len()).unwrap_or(0)
                class:hot=move || live_alerts.get().is_some_and(|l| l.iter().any(|a| a.state == "firing"))>
                {tr("alerts")} " "
                <span class="count">{move || live_alerts.get().map(|l| l.len().to_string()).unwrap_or_default()}</span>
            </a>
            <Suspense>
                {move || viewer.get().flatten().map(|v| {
                    let role_name = move || lang.get().pick(v.role.name());
                    view! {
                        <span class="who" id="who" data-role=v.role.key()>{v.name.clone()} " · " {role_name}</span>
                        <form method="post" action="/auth/signout" class="signout">
                            <button type="submit" id="sign-out">{tr("sign_out")}</button>
                        </form>
                    }
                })}
            </Suspense>
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
