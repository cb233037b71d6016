//! Member lists, exports and the member 360 record (operators: masked; admins: shown),
//! every read audited.

use super::*;

impl Services {
    /// A page of members (operators: names and phones masked; admins: shown). Audited.
    pub async fn members(&self, who: &Caller, query: MembersQuery) -> Result<MemberPage> {
        who.require(Role::Operator)?;
        let cfg = self.metrics;
        let rules = rfm::rules(&self.ops).await?;
        let filters = self.filters(who, query.filters.as_deref(), query.segment.as_deref()).await?;
        let audited = audited_lookup(&query)?;
        self.audit_member_read(who, "member.list", None, &audited).await?;
        let personal = personal(who);
        self.analytics.read(move |conn| crate::members::list_in(conn, &query, filters, cfg, rules, personal)).await
    }

    /// Member-level reads by people are audited; the server's own (alert evaluation) are not.
    async fn audit_member_read<Q: serde::Serialize>(
        &self,
        who: &Caller,
        action: &str,
        target: Option<&str>,
        query: &Q,
    ) -> Result<()> {
        if who.is_system() {
            return Ok(());
        }
        audit::record(&self.ops, who, action, target, Some(&audit::describe(query))).await
    }

    /// The members of a query as CSV (see [`crate::members::export_csv`]). Audited.
    pub async fn members_csv(&self, who: &Caller, query: MembersQuery) -> Result<crate::members::Export> {
        who.require(Role::Operator)?;
        let cfg = self.metrics;
        let rules = rfm::rules(&self.ops).await?;
        let filters = self.filters(who, query.filters.as_deref(), query.segment.as_deref()).await?;
        let audited = audited_lookup(&query)?;
        self.audit_member_read(who, "member.export", None, &audited).await?;
        let personal = personal(who);
        self.analytics.read(move |conn| crate::members::export_csv(conn, &query, filters, cfg, rules, personal)).await
    }

    /// One member's 360 record. Audited.
    pub async fn member(&self, who: &Caller, member_id: String) -> Result<Option<Member360>> {
        who.require(Role::Operator)?;
        let cfg = self.metrics;
        let rules = rfm::rules(&self.ops).await?;
        self.audit_member_read(who, "member.view", Some(&member_id), &()).await?;
        let personal = personal(who);
        self.analytics.read(move |conn| crate::members::profile(conn, &member_id, cfg, &rules, personal)).await
    }
}

/// The query as the audit log keeps it: a look-up checked first (a bad one is a 400 and no
/// read) and kept with a number masked.
fn audited_lookup(query: &MembersQuery) -> Result<MembersQuery> {
    let key = crate::members::find_key(query.find.as_deref())?;
    Ok(MembersQuery { find: key.as_deref().map(crate::members::find_for_audit), ..query.clone() })
}

/// How names and phones reach this caller.
fn personal(who: &Caller) -> crate::members::Personal {
    if who.sees_personal_data() { crate::members::Personal::Shown } else { crate::members::Personal::Masked }
}
