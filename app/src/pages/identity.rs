//! Identity (admins): the pairs of members the matching rules say are one person, with
//! the evidence, to merge after review; the merges made, to undo. The server refuses all
//! of it to anyone but an admin and audits each; the page only follows.

use leptos::prelude::*;

use super::list::{Col, Table, listed};
use crate::{
    api::{get_identity_candidates, get_merges, merge_members, undo_merge},
    error_template::said,
    format::money,
    i18n::{tr, use_lang},
    model::{CandidateMember, MergeRequest},
};

#[component]
pub fn IdentityPage() -> impl IntoView {
    let lang = use_lang();
    // Bumped after each merge or undo: both lists are asked again.
    let changed = RwSignal::new(0u32);
    let candidates = Resource::new(move || changed.get(), |_| get_identity_candidates());
    let merges = Resource::new(move || changed.get(), |_| get_merges());
    let status = RwSignal::new(None::<String>);
    let act = move |done: Result<crate::model::MergeReport, leptos::prelude::ServerFnError>| {
        match done {
            Ok(r) => {
                status.set(Some(format!("{} {}", crate::i18n::t(lang.get_untracked(), "identity.done"), r.orders)))
            }
            Err(e) => status.set(Some(said(lang.get_untracked(), &e))),
        }
        changed.update(|n| *n += 1);
    };
    let merge = move |survivor: String, merged: String| {
        leptos::task::spawn_local(async move {
            act(merge_members(MergeRequest { survivor, merged: vec![merged] }).await);
        });
    };
    let undo = move |id: i64| {
        leptos::task::spawn_local(async move { act(undo_merge(id).await) });
    };
    view! {
        <section class="identity">
            <p class="panel-note">{tr("identity.note")}</p>
            {move || status.get().map(|m| view! { <p class="status" role="status" id="identity-status">{m}</p> })}
            <h2>{tr("identity.candidates")}</h2>
            <Suspense fallback=super::Loading>
                {move || Suspend::new(async move {
                    let table = Table {
                        id: "candidates",
                        columns: &[
                            Col::key("identity.rule"),
                            Col::key("identity.survivor"),
                            Col::key("identity.merged"),
                            Col::key("identity.evidence"),
                            Col::blank(),
                        ],
                        empty: Some(("identity.none", Some("no-candidates"))),
                    };
                    listed(lang.get_untracked(), candidates.await, table, |c| {
                        let (s, m) = (c.survivor.member_id.clone(), c.merged.member_id.clone());
                        let (row_s, row_m) = (s.clone(), m.clone());
                        view! {
                            <tr data-survivor=row_s data-merged=row_m>
                                <td>{c.rule.clone()}</td>
                                <td>{member(&c.survivor)}</td>
                                <td>{member(&c.merged)}</td>
                                <td>{c.evidence.join("; ")}</td>
                                <td><button type="button" class="merge" on:click=move |_| merge(s.clone(), m.clone())>{tr("identity.merge")}</button></td>
                            </tr>
                        }
                    })
                })}
            </Suspense>
            <h2>{tr("identity.merges")}</h2>
            <Suspense fallback=super::Loading>
                {move || Suspend::new(async move {
                    let table = Table {
                        id: "merges",
                        columns: &[
                            Col::text("#"),
                            Col::key("identity.survivor"),
                            Col::key("identity.merged"),
                            Col::key("identity.when"),
                            Col::blank(),
                        ],
                        empty: None,
                    };
                    listed(lang.get_untracked(), merges.await, table, |r| {
                        let id = r.merge_id;
                        let standing = r.undone_at.is_none();
                        view! {
                            <tr data-merge=id>
                                <td>{id}</td>
                                <td><a href=format!("/members/{}", r.survivor)>{r.survivor.clone()}</a></td>
                                <td>{r.merged.clone()}</td>
                                <td>{r.merged_at.clone()}" · "{r.merged_by.clone()}</td>
                                <td>{if standing {
                                    view! { <button type="button" class="undo" on:click=move |_| undo(id)>{tr("identity.undo")}</button> }.into_any()
                                } else {
                                    view! { <span class="muted">{tr("identity.undone")}</span> }.into_any()
                                }}</td>
                            </tr>
                        }
                    })
                })}
            </Suspense>
        </section>
    }
}

/// A candidate's member: id (linked to the 360), joined, channels, purchases and revenue.
fn member(m: &CandidateMember) -> impl IntoView + use<> {
    view! {
        <a href=format!("/members/{}", m.member_id)>{m.member_id.clone()}</a>
        <br/>
        <small>
            {m.joined_at.clone().unwrap_or_default().chars().take(10).collect::<String>()}
            " · "{m.channels.join(", ")}" · "{m.purchases}" · "{money(m.revenue_cents as f64 / 100.0)}
        </small>
    }
}
