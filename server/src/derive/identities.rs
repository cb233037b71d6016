//! Identities as loads use them (SPEC §11; `crate::identity` for rules and merges): the
//! kinds, every identity as loaded, and the member a row's identity names.

use app::model::IDENTITY_KINDS;

use crate::{Error, Result, derive::aliases};

/// The identity kind `text` names, or a 400.
pub fn kind(field: &str, text: &str) -> Result<&'static str> {
    IDENTITY_KINDS
        .iter()
        .find(|k| **k == text)
        .copied()
        .ok_or_else(|| Error::bad_param(field, format!("expected one of {}, got {text:?}", IDENTITY_KINDS.join(", "))))
}

/// SQL: every identity as loaded, (member_id, kind, value), the phones of members (and of
/// members merged into others) included as `phone` by their keyed hash.
pub const IDENTITIES: &str = "(
    SELECT member_id, kind, value FROM member_identities
    UNION SELECT member_id, 'phone', split_part(phone, ':', 1) FROM members WHERE contains(phone, ':enc1:')
    UNION SELECT member_id, 'phone', split_part(phone, ':', 1) FROM merged_members WHERE contains(phone, ':enc1:'))";

/// SQL: the stored value of an identity of `kind` given as the text `value` (a phone by
/// its keyed hash).
pub fn stored_value(kind: &str, value: &str) -> String {
    if kind == "phone" { format!("mp_phone_key({value})") } else { format!("trim({value})") }
}

/// SQL: the one member the identity of `kind` (one of [`IDENTITY_KINDS`], written into the
/// SQL as our own constant) whose text is `value` belongs to, as loaded; NULL when no
/// member has it, or members who are not one person do.
pub fn owner(kind: &'static str, value: &str) -> String {
    format!(
        "(SELECT CASE WHEN count(DISTINCT coalesce(a.person, i.member_id)) = 1 THEN min(i.member_id) END
          FROM {IDENTITIES} i LEFT JOIN {aliases} a ON a.alias = i.member_id
          WHERE i.kind = '{kind}' AND i.value = {stored})",
        aliases = aliases::aliases(),
        stored = stored_value(kind, value),
    )
}
