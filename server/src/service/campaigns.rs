//! Campaigns (SPEC §12): operators define them on a saved segment and draw or import the
//! arms; everyone reads the readout, executives without member rows and with arms under
//! the minimum group size withheld. Every change is audited.

use app::model::{Campaign, Readout};
use chrono::Days;

use super::*;
use crate::campaigns::{arms, readout, saved};

impl Services {
    /// Every campaign, newest first, with its arms' sizes.
    pub async fn campaigns(&self, who: &Caller) -> Result<Vec<Campaign>> {
        let mut all = saved::list(&self.ops).await?;
        let ids: Vec<i64> = all.iter().map(|c| c.id).collect();
        let sizes = self
            .analytics
            .read(move |conn| ids.iter().map(|&id| arms::sizes(conn, id)).collect::<Result<Vec<_>>>())
            .await?;
        for (c, (t, k)) in all.iter_mut().zip(sizes) {
            (c.treatment_members, c.control_members) = self.arm_sizes(who, t, k);
        }
        Ok(all)
    }

    /// The arms' sizes as `who` may see them: none (0, 0) for an executive when an arm is
    /// under the minimum group size, as the readout withholds it.
    fn arm_sizes(&self, who: &Caller, treatment: i64, control: i64) -> (i64, i64) {
        match self.withheld_under(who) {
            Some(min) if treatment.min(control) < i64::from(min) => (0, 0),
            _ => (treatment, control),
        }
    }

    /// Defines a campaign and draws its arms from its segment's members on the day before
    /// its start (or on the latest data day, if that is earlier). Operators; audited. A
    /// campaign whose arms could not be drawn is not kept.
    pub async fn create_campaign(&self, who: &Caller, c: Campaign) -> Result<Campaign> {
        who.require(Role::Operator)?;
        let start = saved::validate(&c)?;
        let criteria = self.filters(who, None, Some(&c.segment)).await?;
        let seed = c.seed.unwrap_or_else(|| rand::random::<u32>() as i64);
        let id = saved::create(&self.ops, &c, seed, &who.name).await?;
        let target = arms::target(criteria, rfm::rules(&self.ops).await?);
        let (cfg, share) = (self.metrics, c.control_share);
        let drawn = self
            .analytics
            .write(move |conn| {
                let latest = metrics::latest_order_date(conn)?
                    .ok_or_else(|| Error::bad_param("segment", "the store holds no orders yet: load data first"))?;
                let as_of = (start - Days::new(1)).min(latest);
                arms::draw(conn, id, &target, as_of, cfg, seed, share)
            })
            .await;
        match drawn {
            Ok((t, k)) if t + k > 0 => {}
            Ok(_) => {
                saved::delete(&self.ops, id).await?;
                return Err(Error::bad_param(
                    "segment",
                    format!("segment {:?} has no members to draw from", c.segment),
                ));
            }
            Err(e) => {
                saved::delete(&self.ops, id).await?;
                return Err(e);
            }
        }
        saved::set_arms_from(&self.ops, id, "drawn").await?;
        let made = self.campaign(who, id).await?;
        audit::record(&self.ops, who, "campaign.create", Some(&made.name), Some(&audit::describe(&made))).await?;
        Ok(made)
    }

    pub async fn campaign(&self, who: &Caller, id: i64) -> Result<Campaign> {
        let mut c = saved::get(&self.ops, id).await?;
        let (t, k) = self.analytics.read(move |conn| arms::sizes(conn, id)).await?;
        (c.treatment_members, c.control_members) = self.arm_sizes(who, t, k);
        Ok(c)
    }

    /// Replaces a campaign's arms with an imported file (`member_id,arm`). Operators;
    /// audited. A bad line refuses the whole file and keeps the arms it had.
    pub async fn import_campaign_arms(&self, who: &Caller, id: i64, csv: String) -> Result<Campaign> {
        who.require(Role::Operator)?;
        let c = saved::get(&self.ops, id).await?;
        let parsed = arms::parse(&csv)?;
        self.analytics.write(move |conn| arms::import(conn, id, &parsed)).await?;
        saved::set_arms_from(&self.ops, id, "imported").await?;
        audit::record(&self.ops, who, "campaign.arms.import", Some(&c.name), None).await?;
        self.campaign(who, id).await
    }

    /// Deletes a campaign and its arms. Operators; audited.
    pub async fn delete_campaign(&self, who: &Caller, id: i64) -> Result<()> {
        who.require(Role::Operator)?;
        let c = saved::get(&self.ops, id).await?;
        self.analytics
            .write(move |conn| {
                crate::store::sql::Sql::new("DELETE FROM campaign_arms WHERE campaign_id = $id")
                    .bind("id", id)
                    .execute(conn)
            })
            .await?;
        saved::delete(&self.ops, id).await?;
        audit::record(&self.ops, who, "campaign.delete", Some(&c.name), None).await
    }

    /// The readout over the campaign's window so far (see [`crate::campaigns::readout`]).
    /// Any role: it holds no member rows; executives get no figures when an arm is under
    /// the minimum group size.
    pub async fn campaign_readout(&self, who: &Caller, id: i64) -> Result<Readout> {
        let campaign = self.campaign(who, id).await?;
        let start = saved::validate(&campaign)?;
        let (goal, cfg, days) = (campaign.goal.clone(), self.metrics, campaign.window_days);
        let (last, complete, sums) = self
            .analytics
            .read(move |conn| {
                let end = start + Days::new(u64::from(days) - 1);
                let latest = metrics::latest_order_date(conn)?.unwrap_or(start);
                let last = end.min(latest).max(start);
                Ok((last, latest >= end, readout::sums(conn, id, &goal, start, last, cfg)?))
            })
            .await?;
        let withheld = self
            .withheld_under(who)
            .is_some_and(|min| sums.iter().any(|s| s.members < i64::from(min)) || sums.len() < 2);
        let f = readout::figures(&campaign, &sums);
        let (verdict_zh, verdict_en) = match withheld {
            true => {
                ("组内会员过少，不予显示".to_string(), "withheld: an arm is under the minimum group size".to_string())
            }
            false => f.verdict,
        };
        Ok(Readout {
            window_start: campaign.start.clone(),
            window_end: last.format("%Y-%m-%d").to_string(),
            complete,
            arms: if withheld { Vec::new() } else { f.arms },
            rate: if withheld { None } else { f.rate },
            revenue: if withheld { None } else { f.revenue },
            sample_ratio_p: if withheld { None } else { f.sample_ratio.map(|s| s.p_value) },
            sample_ratio_mismatch: !withheld && f.sample_ratio.is_some_and(|s| s.mismatch),
            verdict_zh,
            verdict_en,
            withheld,
            campaign,
        })
    }
}
