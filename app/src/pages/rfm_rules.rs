//! The RFM rule table on the segments page: each named segment's key, names and score
//! ranges, by priority. Admins edit it in place (add, remove, change, save the whole
//! table); a rule the server refuses is marked on its field with the server's reason.
//! Others read it.

use leptos::prelude::*;

use super::Loading;
use crate::{
    api::{get_rfm_rules, save_rfm_rules},
    error_template::said,
    i18n::{tr, use_lang},
    model::{RfmRule, Role},
};

/// The field a refusal names, `rules[3].r`, as (rule index, field), and its reason.
pub fn refused_field(message: &str) -> Option<(usize, String, String)> {
    let rest = message.split("invalid rules[").nth(1)?;
    let (index, rest) = rest.split_once("].")?;
    let (field, reason) = rest.split_once(": ")?;
    Some((index.parse().ok()?, field.to_string(), reason.to_string()))
}

#[component]
pub fn RfmRules() -> impl IntoView {
    let lang = use_lang();
    let role = crate::use_role();
    let may_edit = Signal::derive(move || role.get().is_some_and(|r| r >= Role::Admin));
    let loaded = RwSignal::new(0u32);
    let stored = Resource::new(move || loaded.get(), |_| get_rfm_rules());
    let rules = RwSignal::new(Vec::<RfmRule>::new());
    let status = RwSignal::new(None::<String>);
    let bad = RwSignal::new(None::<(usize, String, String)>);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let table = rules.get_untracked();
        leptos::task::spawn_local(async move {
            match save_rfm_rules(table).await {
                Ok(saved) => {
                    rules.set(saved);
                    bad.set(None);
                    status.set(Some(crate::i18n::t(lang.get_untracked(), "rfm_rules.saved").to_string()));
                }
                Err(e) => {
                    let message = said(lang.get_untracked(), &e);
                    bad.set(refused_field(&message));
                    status.set(Some(message));
                }
            }
        });
    };
    view! {
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                // A table that did not load is not shown as empty: saving it would replace
                // every rule.
                let table = match stored.await {
                    Ok(table) => table,
                    Err(e) => {
                        return view! { <p class="error" role="status" id="rfm-status">{said(lang.get_untracked(), &e)}</p> }
                            .into_any();
                    }
                };
                rules.set(table);
                view! {
                    <form class="rfm-rules" id="rfm-rules" on:submit=save>
                        <table class="data">
                            <thead><tr>
                                <th scope="col">{tr("rfm_rules.priority")}</th>
                                <th scope="col">{tr("rfm_rules.key")}</th>
                                <th scope="col">{tr("rfm_rules.name_zh")}</th>
                                <th scope="col">{tr("rfm_rules.name_en")}</th>
                                <th scope="col">"R"</th>
                                <th scope="col">"F"</th>
                                <th scope="col">"M"</th>
                                <th scope="col"></th>
                            </tr></thead>
                            <tbody>
                                <For each={move || (0..rules.with(Vec::len)).collect::<Vec<_>>()} key={|i| *i} let:i>
                                    <Rule i rules bad may_edit/>
                                </For>
                            </tbody>
                        </table>
                        <Show when=move || may_edit.get()>
                            <button type="button" id="rfm-add" on:click=move |_| rules.update(|r| {
                                let priority = r.iter().map(|x| x.priority).max().unwrap_or(0) + 10;
                                r.push(RfmRule { priority, key: String::new(), name_zh: String::new(), name_en: String::new(), r: (1, 5), f: (1, 5), m: (1, 5) });
                            })>{tr("rfm_rules.add")}</button>
                            " "
                            <button type="submit" id="rfm-save">{tr("rfm_rules.save")}</button>
                        </Show>
                        {move || status.get().map(|m| view! { <p class="status" role="status" id="rfm-status">{m}</p> })}
                    </form>
                }
                .into_any()
            })}
        </Suspense>
    }
}

/// One rule's row: inputs for admins, text for others; the field the server refused is
/// marked and says why.
#[component]
fn Rule(
    i: usize,
    rules: RwSignal<Vec<RfmRule>>,
    bad: RwSignal<Option<(usize, String, String)>>,
    may_edit: Signal<bool>,
) -> impl IntoView {
    let get = move |f: fn(&RfmRule) -> String| rules.with(|r| r.get(i).map(f).unwrap_or_default());
    let refused = move |field: &'static str| {
        bad.with(|b| b.as_ref().filter(|(j, f, _)| *j == i && f == field).map(|b| b.2.clone()))
    };
    let text = move |field: &'static str, read: fn(&RfmRule) -> String, write: fn(&mut RfmRule, String)| {
        view! {
            <td data-field=format!("rules[{i}].{field}") class:invalid=move || refused(field).is_some()>
                <input name=field prop:value=move || get(read) disabled=move || !may_edit.get()
                    aria-invalid=move || refused(field).map(|_| "true")
                    on:input=move |ev| { let v = event_target_value(&ev); rules.update(|r| if let Some(x) = r.get_mut(i) { write(x, v) }) }/>
                {move || refused(field).map(|why| view! { <span class="field-error">{why}</span> })}
            </td>
        }
        .into_any()
    };
    let range = move |field: &'static str, read: fn(&RfmRule) -> (i64, i64), write: fn(&mut RfmRule, (i64, i64))| {
        let side = move |hi: bool| {
            view! {
                <input type="number" min="1" max="5" class="score" name=format!("{field}_{}", if hi { "max" } else { "min" })
                    disabled=move || !may_edit.get()
                    prop:value=move || rules.with(|r| r.get(i).map(|x| { let (lo, h) = read(x); if hi { h } else { lo } }).unwrap_or(1))
                    on:input=move |ev| {
                        let v: i64 = event_target_value(&ev).parse().unwrap_or(0);
                        rules.update(|r| if let Some(x) = r.get_mut(i) {
                            let (lo, h) = read(x);
                            write(x, if hi { (lo, v) } else { (v, h) });
                        })
                    }/>
            }
        };
        view! {
            <td data-field=format!("rules[{i}].{field}") class:invalid=move || refused(field).is_some()>
                {side(false)} "–" {side(true)}
                {move || refused(field).map(|why| view! { <span class="field-error">{why}</span> })}
            </td>
        }
        .into_any()
    };
    view! {
        <tr data-rule=i>
            <td data-field=format!("rules[{i}].priority") class:invalid=move || refused("priority").is_some()>
                <input type="number" class="score" name="priority" disabled=move || !may_edit.get()
                    prop:value=move || rules.with(|r| r.get(i).map(|x| x.priority).unwrap_or(0))
                    on:input=move |ev| { let v = event_target_value(&ev).parse().unwrap_or(0); rules.update(|r| if let Some(x) = r.get_mut(i) { x.priority = v }) }/>
                {move || refused("priority").map(|why| view! { <span class="field-error">{why}</span> })}
            </td>
            {text("key", |x| x.key.clone(), |x, v| x.key = v)}
            {text("name_zh", |x| x.name_zh.clone(), |x, v| x.name_zh = v)}
            {text("name_en", |x| x.name_en.clone(), |x, v| x.name_en = v)}
            {range("r", |x| x.r, |x, v| x.r = v)}
            {range("f", |x| x.f, |x, v| x.f = v)}
            {range("m", |x| x.m, |x, v| x.m = v)}
            <td>
                <Show when=move || may_edit.get()>
                    <button type="button" class="rfm-remove" on:click=move |_| {
                        bad.set(None);
                        rules.update(|r| { if i < r.len() { r.remove(i); } })
                    }>
                        {tr("rfm_rules.remove")}
                    </button>
                </Show>
            </td>
        </tr>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_refusal_names_its_rule_and_field() {
        assert_eq!(
            super::refused_field("invalid rules[3].r: expected [min, max] with 1 <= min <= max <= 5, got [4, 2]"),
            Some((3, "r".to_string(), "expected [min, max] with 1 <= min <= max <= 5, got [4, 2]".to_string()))
        );
        assert_eq!(super::refused_field("invalid rules: expected 1 to 30 rules"), None);
    }
}
