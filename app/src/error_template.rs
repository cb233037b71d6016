//! How a failed request is shown: what happened, in words a user can act on, in the
//! reader's language, with a way back. A role that may not see a page gets a page saying
//! so (not the server's error text); a lapsed session gets a link to sign in again.

use leptos::prelude::*;

use crate::i18n::{Lang, t, use_lang};

/// What a failed server function means for the reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The signed-in role may not do this (the server answered 403).
    NotForYourRole,
    /// No session, or it ended (401).
    SignedOut,
    /// Anything else, with the server's message (safe to show: the server never leaks).
    Other(String),
}

/// Reads an error as it reaches the page. A server function's error crosses from the
/// server encoded as `<Variant>|<message>` (`ServerError|the executive role may not do
/// this; …`); the variant is not for readers. The messages matched are the server's own
/// (`Caller::require`, the sign-in check in `api::ask`).
pub fn failure(text: &str) -> Failure {
    let message = match text.split_once('|') {
        Some((variant, rest)) if !variant.is_empty() && variant.chars().all(|c| c.is_ascii_alphabetic()) => rest,
        _ => text,
    };
    let message = message.strip_prefix("error running server function: ").unwrap_or(message);
    if message.contains(" role may not do this") {
        Failure::NotForYourRole
    } else if message == "authentication required" {
        Failure::SignedOut
    } else {
        Failure::Other(message.to_string())
    }
}

impl Failure {
    /// What a form tells its reader when the server refused: the server's message, or,
    /// for a role that may not or a lapsed session, a sentence in the reader's language.
    pub fn said(self, lang: Lang) -> String {
        match self {
            Failure::Other(m) => m,
            Failure::NotForYourRole => t(lang, "error.not_for_role").to_string(),
            Failure::SignedOut => t(lang, "error.signed_out").to_string(),
        }
    }
}

/// A failed server function as a form shows it (see [`Failure::said`]).
pub fn said(lang: Lang, e: &ServerFnError) -> String {
    failure(&e.to_string()).said(lang)
}

#[component]
pub fn ErrorTemplate(errors: ArcRwSignal<Errors>) -> impl IntoView {
    let lang = use_lang();
    let failures = move || {
        let mut all: Vec<Failure> = errors.get().into_iter().map(|(_, e)| failure(&e.to_string())).collect();
        all.dedup();
        all
    };
    move || {
        let all = failures();
        let l = lang.get();
        if all.contains(&Failure::NotForYourRole) {
            view! {
                <div class="error not-for-role" role="alert" data-failure="not_for_role">
                    <h2>{t(l, "error.not_for_role")}</h2>
                    <p>{t(l, "error.not_for_role.why")}</p>
                    <p><a href="/">{t(l, "error.back")}</a></p>
                </div>
            }
            .into_any()
        } else if all.contains(&Failure::SignedOut) {
            view! {
                <div class="error" role="alert" data-failure="signed_out">
                    <h2>{t(l, "error.signed_out")}</h2>
                    <p><a href="/signin">{t(l, "sign_in")}</a></p>
                </div>
            }
            .into_any()
        } else {
            let messages: Vec<String> = all
                .into_iter()
                .filter_map(|f| match f {
                    Failure::Other(m) => Some(m),
                    _ => None,
                })
                .collect();
            view! {
                <div class="error" role="alert" data-failure="other">
                    <h2>{t(l, "error.title")}</h2>
                    <ul>{messages.into_iter().map(|m| view! { <li>{m}</li> }).collect_view()}</ul>
                    <p><a href="/">{t(l, "error.back")}</a></p>
                </div>
            }
            .into_any()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_are_read_not_shown_raw() {
        assert_eq!(
            failure("ServerError|the executive role may not do this; it needs operator or admin"),
            Failure::NotForYourRole
        );
        assert_eq!(failure("error running server function: authentication required"), Failure::SignedOut);
        assert_eq!(failure("ServerError|authentication required"), Failure::SignedOut);
        assert_eq!(failure("ServerError|unknown member M-1"), Failure::Other("unknown member M-1".into()));
        // A message that itself holds a bar keeps it; only a leading variant name goes.
        assert_eq!(failure("filters: expected a|b"), Failure::Other("filters: expected a|b".into()));
        assert_eq!(failure("plain text"), Failure::Other("plain text".into()));
        assert_eq!(failure("ServerError|threshold: expected a number").said(Lang::En), "threshold: expected a number");
        assert_eq!(Failure::SignedOut.said(Lang::Zh), t(Lang::Zh, "error.signed_out"));
    }
}
