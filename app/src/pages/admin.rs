//! Admin: the users (add, change role, disable), the API tokens (make, revoke; a new
//! secret shown once) and the audit log with its CSV export (data loads have their own
//! page, [`super::loads`]). The server refuses all of
//! it to anyone but an admin; the page only follows.

use leptos::prelude::*;

use crate::{
    api::{create_token, get_audit, get_tokens, get_users, revoke_token, save_user},
    error_template::{ErrorTemplate, said},
    i18n::{tr, use_lang},
    model::{AuditQuery, Role, TokenRequest, UserChange},
};

use super::Loading;

#[component]
pub fn AdminPage() -> impl IntoView {
    // Bumped after every change, so the lists fetch again.
    let changed = RwSignal::new(0u32);
    view! {
        <section class="admin">
            <p class="panel-note"><a href="/loads" id="to-loads">{tr("nav.loads")} " →"</a></p>
            <Users changed/>
            <Tokens changed/>
            <Audit changed/>
        </section>
    }
}

/// A labelled text input bound to `value` (`kind`: `text` or `password`).
fn input(label: &'static str, name: &'static str, kind: &'static str, value: RwSignal<String>) -> impl IntoView {
    view! {
        <label>{tr(label)}
            <input name=name type=kind required prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
        </label>
    }
}

/// A labelled select bound to `value`.
fn select(label: &'static str, name: &'static str, value: RwSignal<String>, options: impl IntoView) -> impl IntoView {
    view! {
        <label>{tr(label)}
            <select name=name prop:value=move || value.get() on:change=move |ev| value.set(event_target_value(&ev))>{options}</select>
        </label>
    }
}

fn role_options() -> impl IntoView {
    let lang = use_lang();
    Role::ALL
        .iter()
        .map(|r| {
            let r = *r;
            view! { <option value=r.key()>{move || lang.get().pick(r.name())}</option> }
        })
        .collect_view()
}

#[component]
fn Users(changed: RwSignal<u32>) -> impl IntoView {
    let lang = use_lang();
    let users = Resource::new(move || changed.get(), |_| get_users());
    let (name, password, role) =
        (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new("operator".to_string()));
    let status = RwSignal::new(None::<(bool, String)>);
    let apply = move |change: UserChange, create: bool| {
        leptos::task::spawn_local(async move {
            match save_user(change, create).await {
                Ok(u) => {
                    status.set(Some((true, format!("{} · {}", u.name, u.role.key()))));
                    changed.update(|n| *n += 1);
                }
                Err(e) => status.set(Some((false, said(lang.get_untracked(), &e)))),
            }
        })
    };
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let change = UserChange {
            name: name.get_untracked().trim().to_string(),
            role: Role::parse(&role.get_untracked()),
            password: Some(password.get_untracked()),
            disabled: None,
        };
        password.set(String::new());
        apply(change, true);
    };
    view! {
        <h2>{tr("admin.users")}</h2>
        <Suspense fallback=Loading>
            <ErrorBoundary fallback=|errors| view! { <ErrorTemplate errors/> }>
                {move || users.get().map(|r| r.map(|list| view! {
                    <table class="users" id="users">
                        <thead><tr>
                            <th scope="col">{tr("admin.name")}</th>
                            <th scope="col">{tr("admin.role")}</th>
                            <th scope="col">{tr("admin.created")}</th>
                            <th scope="col">{tr("admin.new_password")}</th>
                            <th scope="col"></th>
                        </tr></thead>
                        <tbody>
                            {list.into_iter().map(|u| {
                                let (n1, n2, n3) = (u.name.clone(), u.name.clone(), u.name.clone());
                                let disabled = u.disabled;
                                let new_password = RwSignal::new(String::new());
                                // A new password (at least 12 characters) also lifts a lockout
                                // and ends the user's sessions.
                                let set_password = move |ev: leptos::ev::SubmitEvent| {
                                    ev.prevent_default();
                                    let change = UserChange { name: n3.clone(), password: Some(new_password.get_untracked()), ..Default::default() };
                                    new_password.set(String::new());
                                    apply(change, false);
                                };
                                view! {
                                    <tr data-user=u.name.clone() class:disabled=disabled>
                                        <td>{u.name.clone()}</td>
                                        <td>
                                            <select name="role" prop:value=u.role.key() on:change=move |ev| {
                                                let change = UserChange { name: n1.clone(), role: Role::parse(&event_target_value(&ev)), ..Default::default() };
                                                apply(change, false);
                                            }>{role_options()}</select>
                                        </td>
                                        <td>{u.created_at.clone()} {disabled.then(|| view! { " · " {tr("admin.disabled")} })}</td>
                                        <td>
                                            <form class="set-password" on:submit=set_password>
                                                <input name="new_password" type="password" autocomplete="new-password" required
                                                    prop:value=move || new_password.get() on:input=move |ev| new_password.set(event_target_value(&ev))/>
                                                <button type="submit">{tr("admin.set_password")}</button>
                                            </form>
                                        </td>
                                        <td>
                                            <button type="button" on:click=move |_| {
                                                let change = UserChange { name: n2.clone(), disabled: Some(!disabled), ..Default::default() };
                                                apply(change, false);
                                            }>{tr(if disabled { "admin.enable" } else { "admin.disable" })}</button>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }))}
            </ErrorBoundary>
        </Suspense>
        <form class="add-user" id="add-user" on:submit=add>
            {input("admin.name", "name", "text", name)}
            {input("signin.password", "password", "password", password)}
            {select("admin.role", "role", role, role_options())}
            <button type="submit">{tr("admin.add_user")}</button>
        </form>
        {move || status.get().map(|(ok, m)| view! { <p class=if ok { "saved" } else { "error" } role="status">{m}</p> })}
    }
}

#[component]
fn Tokens(changed: RwSignal<u32>) -> impl IntoView {
    let lang = use_lang();
    let tokens = Resource::new(move || changed.get(), |_| get_tokens());
    let (name, scope, role) =
        (RwSignal::new(String::new()), RwSignal::new("ingest".to_string()), RwSignal::new("executive".to_string()));
    let shown = RwSignal::new(None::<Result<String, String>>);
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let request = TokenRequest {
            name: name.get_untracked(),
            scope: scope.get_untracked(),
            role: Role::parse(&role.get_untracked()),
        };
        leptos::task::spawn_local(async move {
            match create_token(request).await {
                Ok(t) => {
                    shown.set(t.secret.map(Ok));
                    changed.update(|n| *n += 1);
                }
                Err(e) => shown.set(Some(Err(said(lang.get_untracked(), &e)))),
            }
        });
    };
    view! {
        <h2>{tr("admin.tokens")}</h2>
        <Suspense fallback=Loading>
            <ErrorBoundary fallback=|errors| view! { <ErrorTemplate errors/> }>
                {move || tokens.get().map(|r| r.map(|list| view! {
                    <table class="tokens" id="tokens">
                        <thead><tr>
                            <th scope="col">"#"</th>
                            <th scope="col">{tr("admin.name")}</th>
                            <th scope="col">{tr("admin.scope")}</th>
                            <th scope="col">{tr("admin.role")}</th>
                            <th scope="col">{tr("admin.last_used")}</th>
                            <th scope="col"></th>
                        </tr></thead>
                        <tbody>
                            {list.into_iter().map(|t| {
                                let id = t.id;
                                let revoked = t.revoked_at.is_some();
                                view! {
                                    <tr data-token=id class:disabled=revoked>
                                        <td>{id}</td>
                                        <td>{t.name.clone()}</td>
                                        <td>{t.scope.clone()}</td>
                                        <td>{t.role.key()}</td>
                                        <td>{t.last_used_at.clone().unwrap_or_default()}</td>
                                        <td>{if revoked {
                                            view! { <span>{tr("admin.revoked")}</span> }.into_any()
                                        } else {
                                            view! { <button type="button" on:click=move |_| {
                                                leptos::task::spawn_local(async move {
                                                    let _ = revoke_token(id).await;
                                                    changed.update(|n| *n += 1);
                                                });
                                            }>{tr("admin.revoke")}</button> }.into_any()
                                        }}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }))}
            </ErrorBoundary>
        </Suspense>
        <form class="add-token" id="add-token" on:submit=add>
            {input("admin.name", "name", "text", name)}
            {select("admin.scope", "scope", scope, view! { <option value="ingest">"ingest"</option><option value="read">"read"</option> })}
            {select("admin.role", "role", role, role_options())}
            <button type="submit">{tr("admin.add_token")}</button>
        </form>
        {move || shown.get().map(|s| match s {
            Ok(secret) => view! { <p class="saved secret" role="status">{tr("admin.secret_once")} " " <code id="token-secret">{secret}</code></p> }.into_any(),
            Err(m) => view! { <p class="error" role="status">{m}</p> }.into_any(),
        })}
    }
}

#[component]
fn Audit(changed: RwSignal<u32>) -> impl IntoView {
    let entries =
        Resource::new(move || changed.get(), |_| get_audit(AuditQuery { limit: Some(100), ..Default::default() }));
    view! {
        <h2>{tr("admin.audit")} " " <a class="export" href="/api/v1/audit.csv" download="audit.csv">{tr("admin.export")}</a></h2>
        <Suspense fallback=Loading>
            <ErrorBoundary fallback=|errors| view! { <ErrorTemplate errors/> }>
                {move || entries.get().map(|r| r.map(|list| view! {
                    <table class="audit" id="audit">
                        <thead><tr>
                            <th scope="col">{tr("admin.when")}</th>
                            <th scope="col">{tr("admin.who")}</th>
                            <th scope="col">{tr("admin.action")}</th>
                            <th scope="col">{tr("admin.target")}</th>
                            <th scope="col">{tr("admin.filter")}</th>
                        </tr></thead>
                        <tbody>
                            {list.into_iter().map(|e| view! {
                                <tr data-action=e.action.clone()>
                                    <td>{e.at}</td>
                                    <td>{e.actor} " · " {e.role.key()}</td>
                                    <td>{e.action.clone()}</td>
                                    <td>{e.target.unwrap_or_default()}</td>
                                    <td>{e.filter.unwrap_or_default()}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }))}
            </ErrorBoundary>
        </Suspense>
    }
}
