//! How a failed request is shown: what happened, in words a user can act on.

use leptos::prelude::*;

#[component]
pub fn ErrorTemplate(errors: ArcRwSignal<Errors>) -> impl IntoView {
    let messages = move || errors.get().into_iter().map(|(_, e)| e.to_string()).collect::<Vec<_>>();
    view! {
        <div class="error" role="alert">
            <h2>"出错了 · Something went wrong"</h2>
            <ul>
                {move || messages().into_iter().map(|m| view! { <li>{m}</li> }).collect_view()}
            </ul>
        </div>
    }
}
