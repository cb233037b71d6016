//! Data loads (admins): upload a file, the load history with each load's counts, and the
//! rows a load rejected — line, field, value and reason — so that a file can be fixed and
//! sent again (re-sending changes nothing already stored). The server refuses all of it
//! to anyone but an admin; the page only follows.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::{
    api::{get_load_rejects, get_loads},
    error_template::ErrorTemplate,
    format,
    i18n::tr,
    model::LoadRecord,
};

use super::Loading;

/// The tables a file can hold (its columns named as in the data contract).
const TABLES: [&str; 6] = ["members", "orders", "order_items", "points", "stores", "tier_changes"];

#[component]
pub fn LoadsPage() -> impl IntoView {
    let query = use_query_map();
    let failed = query.with_untracked(|q| q.get("load_error"));
    let chosen = Memo::new(move |_| query.with(|q| q.get("load").and_then(|v| v.parse::<i64>().ok())));
    let loads = Resource::new(|| (), |_| get_loads());
    view! {
        <section class="loads-page">
            <h2 id="loads">{tr("admin.loads")}</h2>
            <form class="upload" id="upload" method="post" action="/api/v1/loads/upload" enctype="multipart/form-data">
                <label>{tr("admin.table")}
                    <select name="table">{TABLES.map(|t| view! { <option value=t>{t}</option> }).collect_view()}</select>
                </label>
                <label>{tr("admin.file")}
                    <input name="file" type="file" required accept=".csv,.parquet,.csv.gz,.tsv,.txt"/>
                </label>
                <button type="submit">{tr("admin.upload")}</button>
            </form>
            <p class="panel-note">{tr("admin.upload_note")}</p>
            {failed.map(|m| view! { <p class="error" role="status" id="load-error">{tr("admin.load_failed")} " " {m}</p> })}
            <Suspense fallback=Loading>
                <ErrorBoundary fallback=|errors| view! { <ErrorTemplate errors/> }>
                    {move || loads.get().map(|r| r.map(|list| view! {
                        <History list=list.clone()/>
                        {move || chosen.get().and_then(|id| list.iter().find(|l| l.id == id).cloned())
                            .map(|load| view! { <Rejects load/> })}
                    }))}
                </ErrorBoundary>
            </Suspense>
        </section>
    }
}

#[component]
fn History(list: Vec<LoadRecord>) -> impl IntoView {
    view! {
        <table class="loads" id="load-history">
            <thead><tr>
                <th scope="col">{tr("admin.when")}</th>
                <th scope="col">{tr("admin.file")}</th>
                <th scope="col">{tr("admin.table")}</th>
                <th scope="col" class="num">{tr("admin.rows_read")}</th>
                <th scope="col" class="num">{tr("admin.inserted")}</th>
                <th scope="col" class="num">{tr("admin.duplicates")}</th>
                <th scope="col" class="num">{tr("admin.rejected")}</th>
            </tr></thead>
            <tbody>
                {list.into_iter().map(|l| {
                    let rejected = if l.rows_rejected > 0 {
                        view! {
                            <a class="rejects-link" href=format!("/loads?load={}#rejects", l.id)>{format::count(l.rows_rejected as f64)}</a>
                        }.into_any()
                    } else {
                        "0".into_any()
                    };
                    view! {
                        <tr data-load=l.id>
                            <td>{l.finished_at}</td>
                            <td>{l.source}</td>
                            <td>{l.target}</td>
                            <td class="num">{l.rows_read}</td>
                            <td class="num">{l.rows_inserted}</td>
                            <td class="num">{l.rows_duplicate}</td>
                            <td class="num">{rejected}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The rows one load rejected.
#[component]
fn Rejects(load: LoadRecord) -> impl IntoView {
    let id = load.id;
    let rejects = Resource::new(move || id, get_load_rejects);
    view! {
        <h3 id="rejects">{tr("loads.rejects")} " · " {load.source.clone()}</h3>
        <Suspense fallback=Loading>
            <ErrorBoundary fallback=|errors| view! { <ErrorTemplate errors/> }>
                {move || rejects.get().map(|r| r.map(|rows| {
                    let more = load.rows_rejected - rows.len() as i64;
                    view! {
                        <table class="rejects" id="load-rejects" data-load=id>
                            <thead><tr>
                                <th scope="col" class="num">{tr("loads.line")}</th>
                                <th scope="col">{tr("loads.field")}</th>
                                <th scope="col">{tr("loads.value")}</th>
                                <th scope="col">{tr("loads.reason")}</th>
                            </tr></thead>
                            <tbody>
                                {rows.into_iter().map(|r| view! {
                                    <tr data-line=r.line>
                                        <td class="num">{r.line}</td>
                                        <td>{r.field}</td>
                                        <td>{r.value.unwrap_or_default()}</td>
                                        <td>{r.reason}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        {(more > 0).then(|| view! { <p class="panel-note">{tr("loads.more")} " " {format::count(more as f64)}</p> })}
                    }
                }))}
            </ErrorBoundary>
        </Suspense>
    }
}
