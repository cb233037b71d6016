//! A list the server answered, shown the way every page shows one: the error it gave, a
//! notice when it holds nothing, else a table with a header and a row per item.

use leptos::prelude::*;

use crate::{
    error_template::said,
    i18n::{Lang, tr},
};

/// A column of a [`Table`]: its header and whether it holds numbers (right-aligned).
#[derive(Clone, Copy)]
pub struct Col {
    header: Header,
    num: bool,
}

#[derive(Clone, Copy)]
enum Header {
    Key(&'static str),
    Text(&'static str),
    Blank,
}

impl Col {
    /// Headed by the i18n text of `key`.
    pub const fn key(key: &'static str) -> Col {
        Col { header: Header::Key(key), num: false }
    }

    /// Of numbers, headed by the i18n text of `key`.
    pub const fn num(key: &'static str) -> Col {
        Col { header: Header::Key(key), num: true }
    }

    /// Headed by `text` as it is, in every language.
    pub const fn text(text: &'static str) -> Col {
        Col { header: Header::Text(text), num: false }
    }

    /// Without a header (a column of buttons or links).
    pub const fn blank() -> Col {
        Col { header: Header::Blank, num: false }
    }

    fn view(self) -> impl IntoView {
        let label = match self.header {
            Header::Key(key) => Some(tr(key).into_any()),
            Header::Text(text) => Some(text.into_any()),
            Header::Blank => None,
        };
        view! { <th scope="col" class=self.num.then_some("num")>{label}</th> }
    }
}

/// How a list is shown: the table's element id and columns, and for an empty list the
/// i18n key and element id of the notice shown instead (none: the empty table).
pub struct Table<'a> {
    pub id: &'static str,
    pub columns: &'a [Col],
    pub empty: Option<(&'static str, Option<&'static str>)>,
}

/// `list` as `table` says (see the module), with `row` making each item's `<tr>`.
pub fn listed<T, V>(
    lang: Lang,
    list: Result<Vec<T>, ServerFnError>,
    table: Table<'_>,
    row: impl FnMut(T) -> V,
) -> AnyView
where
    V: IntoView + Send + 'static,
{
    let list = match (list, table.empty) {
        (Err(e), _) => return view! { <p class="error" role="status">{said(lang, &e)}</p> }.into_any(),
        (Ok(list), Some((key, id))) if list.is_empty() => {
            return view! { <p class="empty" id=id>{tr(key)}</p> }.into_any();
        }
        (Ok(list), _) => list,
    };
    view! {
        <table class="data" id=table.id>
            <thead><tr>{table.columns.iter().map(|c| c.view()).collect_view()}</tr></thead>
            <tbody>{list.into_iter().map(row).collect_view()}</tbody>
        </table>
    }
    .into_any()
}
