//! Sign-in: a plain form posted to `/auth/signin` (it works before the page hydrates),
//! back here with the reason when refused.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::i18n::tr;

#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || query.with(|q| q.get("next")).unwrap_or_else(|| "/".into());
    let error = move || {
        query.with(|q| q.get("error")).map(|e| match e.as_str() {
            "locked" => "signin.locked",
            "busy" => "signin.busy",
            _ => "signin.wrong",
        })
    };
    view! {
        <section class="signin">
            <h1>{tr("signin.title")}</h1>
            {move || error().map(|key| view! { <p class="error" role="alert" id="signin-error">{tr(key)}</p> })}
            <form method="post" action="/auth/signin" id="signin-form">
                <input type="hidden" name="next" value=next/>
                <label>{tr("signin.name")}
                    <input name="name" autocomplete="username" required autofocus/>
                </label>
                <label>{tr("signin.password")}
                    <input name="password" type="password" autocomplete="current-password" required/>
                </label>
                <button type="submit">{tr("sign_in")}</button>
            </form>
            <p class="hint">{tr("signin.hint")}</p>
        </section>
    }
}
