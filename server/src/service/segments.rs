//! Saved segments (operators) and the RFM rule table (admins).

use super::*;

impl Services {
    pub async fn segments(&self, _who: &Caller) -> Result<Vec<Segment>> {
        scope::saved::list(&self.ops).await
    }

    pub async fn segment(&self, _who: &Caller, key: &str) -> Result<Segment> {
        scope::saved::get(&self.ops, key).await
    }

    /// Saving segments is operators' and admins' work.
    pub async fn create_segment(&self, who: &Caller, s: Segment) -> Result<Segment> {
        who.require(Role::Operator)?;
        scope::saved::create(&self.ops, &s).await?;
        self.figures_changed();
        audit::record(&self.ops, who, "segment.create", Some(&s.key), Some(&s.filters)).await?;
        self.segment(who, &s.key).await
    }

    pub async fn update_segment(&self, who: &Caller, s: Segment) -> Result<Segment> {
        who.require(Role::Operator)?;
        scope::saved::update(&self.ops, &s).await?;
        self.figures_changed();
        audit::record(&self.ops, who, "segment.update", Some(&s.key), Some(&s.filters)).await?;
        self.segment(who, &s.key).await
    }

    pub async fn delete_segment(&self, who: &Caller, key: &str) -> Result<()> {
        who.require(Role::Operator)?;
        scope::saved::delete(&self.ops, key).await?;
        self.figures_changed();
        audit::record(&self.ops, who, "segment.delete", Some(key), None).await
    }

    pub async fn rfm_rules(&self, _who: &Caller) -> Result<Vec<rfm::RfmRule>> {
        rfm::rules(&self.ops).await
    }

    /// The RFM rule table names everyone's segments: admins change it.
    pub async fn replace_rfm_rules(&self, who: &Caller, rules: Vec<rfm::RfmRule>) -> Result<Vec<rfm::RfmRule>> {
        who.require(Role::Admin)?;
        rfm::replace(&self.ops, &rules).await?;
        self.figures_changed();
        audit::record(&self.ops, who, "rfm_rules.replace", None, None).await?;
        rfm::rules(&self.ops).await
    }
}
