//! Simplified Chinese and English. The choice lives in a `lang` cookie, so the server
//! renders the page in it and the browser hydrates the same text; switching sets the
//! cookie and the signal, and every label follows at once. It is also kept for the
//! signed-in user, whose sign-in sets the cookie again (SPEC §1: remembered per user).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::{Dimension, SegmentName, Text};

mod activation;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    fn from_cookie(header: &str) -> Lang {
        header
            .split(';')
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == "lang")
            .map_or(Lang::Zh, |(_, v)| if v == "en" { Lang::En } else { Lang::Zh })
    }

    /// The side of a label in this language.
    pub fn pick(self, text: Text) -> &'static str {
        match self {
            Lang::Zh => text.zh,
            Lang::En => text.en,
        }
    }
}

/// The language of this request (server) or page (browser), as a signal.
#[derive(Clone, Copy)]
pub struct Language(pub RwSignal<Lang>);

/// Reads the `lang` cookie and provides the language to the app.
pub fn provide_language() {
    #[cfg(feature = "ssr")]
    let lang = use_context::<http::request::Parts>()
        .and_then(|parts| parts.headers.get(http::header::COOKIE).and_then(|v| v.to_str().ok()).map(Lang::from_cookie))
        .unwrap_or_default();
    #[cfg(feature = "hydrate")]
    let lang = {
        use wasm_bindgen::JsCast;
        document()
            .dyn_into::<web_sys::HtmlDocument>()
            .ok()
            .and_then(|d| d.cookie().ok())
            .map(|c| Lang::from_cookie(&c))
            .unwrap_or_default()
    };
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    let lang = Lang::Zh;
    provide_context(Language(RwSignal::new(lang)));
}

pub fn use_lang() -> RwSignal<Lang> {
    expect_context::<Language>().0
}

/// Switches the language and remembers it for a year.
pub fn set_lang(lang: Lang) {
    use_lang().set(lang);
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Ok(d) = document().dyn_into::<web_sys::HtmlDocument>() {
            let value = if lang == Lang::En { "en" } else { "zh" };
            let _ = d.set_cookie(&format!("lang={value}; path=/; max-age=31536000; samesite=lax"));
        }
        if let Some(html) = document().document_element() {
            let _ = html.set_attribute("lang", lang.code());
        }
        // Remembered for the signed-in user too: the next sign-in, on any browser, sets it.
        leptos::task::spawn_local(async move {
            let _ = crate::api::save_language(if lang == Lang::En { "en" } else { "zh" }.to_string()).await;
        });
    }
}

/// A label of the pages in the current language; unknown keys show as themselves. Every
/// word on screen is a row here or a name in the catalogue (`crate::model::catalogue`),
/// both [`Text`] picked by [`Lang::pick`].
pub fn t(lang: Lang, key: &str) -> &str {
    text(key).map_or(key, |text| lang.pick(text))
}

/// A dimension's value as shown: the values the data contract enumerates (lifecycle
/// stages, tiers, channels, gender, churn risk, the default RFM segments) have names in
/// both languages; other values (regions, stores, categories, cohorts, custom segment keys)
/// are shown as stored. Links and filters keep the stored value.
pub fn value_label(lang: Lang, dimension: Dimension, value: &str) -> String {
    let family = match dimension {
        Dimension::LifecycleStage => Family::Stage,
        Dimension::Tier => Family::Tier,
        Dimension::JoinChannel | Dimension::PreferredChannel => Family::Channel,
        Dimension::Gender => Family::Gender,
        Dimension::ChurnRisk => Family::ChurnRisk,
        Dimension::RfmSegment => Family::RfmSegment,
        _ => Family::None,
    };
    stored_label(lang, family, value)
}

/// A dimension's value as shown, with the RFM rule table's names (`names`, from
/// `get_segment_names`) taking the place of the default rules' for RFM segments.
pub fn value_label_named(lang: Lang, dimension: Dimension, value: &str, names: &[SegmentName]) -> String {
    match names.iter().find(|n| dimension == Dimension::RfmSegment && n.key == value) {
        Some(n) => match lang {
            Lang::Zh => n.name_zh.clone(),
            Lang::En => n.name_en.clone(),
        },
        None => value_label(lang, dimension, value),
    }
}

/// The kinds of stored values that have names (SPEC §3's enumerations and the derived keys).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Stage,
    Tier,
    /// Order and join channels.
    Channel,
    Gender,
    ChurnRisk,
    RfmSegment,
    /// Points ledger kinds: earn, redeem, expire, adjust.
    PointsKind,
    /// Where points came from: purchase, review, referral, check_in, campaign.
    PointsSource,
    /// Only the shared "(none)".
    None,
}

/// A stored value of `family` as shown in `lang`; unknown values as stored.
pub fn stored_label(lang: Lang, family: Family, value: &str) -> String {
    use Family as F;
    let named = match (family, value) {
        (F::Stage, "new") => Some(("新会员", "New")),
        (F::Stage, "active") => Some(("活跃", "Active")),
        (F::Stage, "dormant") => Some(("沉睡", "Dormant")),
        (F::Stage, "churned") => Some(("流失", "Churned")),
        (F::Stage, "registered") => Some(("仅注册", "Registered, no purchase")),
        (F::Tier, "bronze") => Some(("铜卡", "Bronze")),
        (F::Tier, "silver") => Some(("银卡", "Silver")),
        (F::Tier, "gold") => Some(("金卡", "Gold")),
        (F::Tier, "platinum") => Some(("白金卡", "Platinum")),
        (F::Tier, "(none)") => Some(("无等级", "No tier")),
        (F::Channel, "store") => Some(("门店", "Store")),
        (F::Channel, "app") => Some(("App", "App")),
        (F::Channel, "mini_program") => Some(("小程序", "Mini-program")),
        (F::Channel, "web") => Some(("网店", "Web shop")),
        (F::Gender, "F") => Some(("女", "Female")),
        (F::Gender, "M") => Some(("男", "Male")),
        (F::ChurnRisk, "high_value_at_risk") => Some(("高价值·有流失风险", "High value, at risk")),
        (F::ChurnRisk, "at_risk") => Some(("有流失风险", "At risk")),
        (F::ChurnRisk, "likely_active") => Some(("大概率活跃", "Likely active")),
        // The default rules' names (migrations/…_rfm_rules.sql); renamed or added segments
        // show their key here and their names on the segments page.
        (F::RfmSegment, "high_value_loyal") => Some(("高价值忠诚", "High-value loyal")),
        (F::RfmSegment, "new") => Some(("新客", "New")),
        (F::RfmSegment, "potential") => Some(("潜力培育", "Potential")),
        (F::RfmSegment, "at_risk") => Some(("流失风险", "At risk")),
        (F::RfmSegment, "dormant") => Some(("沉睡唤醒", "Dormant")),
        (F::RfmSegment, "lost") => Some(("已流失", "Lost")),
        (F::RfmSegment, "no_purchase") => Some(("回看期内未购买", "No purchase in the lookback")),
        (F::RfmSegment, "other") => Some(("其他", "Other")),
        (F::PointsKind, "earn") => Some(("获得", "Earned")),
        (F::PointsKind, "redeem") => Some(("兑换", "Redeemed")),
        (F::PointsKind, "expire") => Some(("过期", "Expired")),
        (F::PointsKind, "adjust") => Some(("调整", "Adjusted")),
        (F::PointsSource, "purchase") => Some(("购物", "purchase")),
        (F::PointsSource, "review") => Some(("评价", "review")),
        (F::PointsSource, "referral") => Some(("推荐", "referral")),
        (F::PointsSource, "check_in") => Some(("签到", "check-in")),
        (F::PointsSource, "campaign") => Some(("活动", "campaign")),
        (_, "(none)") => Some(("（无）", "(none)")),
        _ => None,
    };
    named.map_or_else(|| value.to_string(), |(zh, en)| lang.pick(Text { zh, en }).to_string())
}

/// The stored value behind a shown label (a chart click gives the label).
pub fn value_of<'a>(
    lang: Lang,
    dimension: Dimension,
    values: impl IntoIterator<Item = &'a str>,
    label: &str,
) -> String {
    values.into_iter().find(|v| value_label(lang, dimension, v) == label).unwrap_or(label).to_string()
}

fn text(key: &str) -> Option<Text> {
    let (zh, en) = match key {
        "brand.sub" => ("会员健康", "Member health"),
        "nav.overview" => ("概览", "Overview"),
        "nav.tiers" => ("等级迁移", "Tiers"),
        "tiers.title" => ("会员等级迁移", "Tier migration"),
        "tiers.from" => ("起始日期", "From"),
        "tiers.at_from" => ("起始等级", "Tier then"),
        "tiers.at_to" => ("截止等级", "Tier now"),
        "tiers.note" => (
            "起始日期前入会的会员，按两个日期各自的等级计数；对角线为等级未变。",
            "Members who had joined by the first date, by their tier at each date; the diagonal kept their tier.",
        ),
        "nav.breakdown" => ("下钻", "Breakdown"),
        "nav.segments" => ("分群", "Segments"),
        "nav.members" => ("会员", "Members"),
        "nav.model" => ("预测模型", "Model"),
        "nav.admin" => ("管理", "Admin"),
        "nav.privacy" => ("个人信息", "Privacy"),
        "nav.identity" => ("身份合并", "Identity"),
        "identity.note" => (
            "规则认为是同一人的会员（附证据）：核对后合并；合并可撤销，撤销后数据完全复原。",
            "Members the matching rules say are one person, with the evidence: review, then merge. A merge can be undone exactly.",
        ),
        "identity.candidates" => ("待核对", "Candidates"),
        "identity.none" => ("没有待核对的会员", "No candidates"),
        "identity.rule" => ("规则", "Rule"),
        "identity.survivor" => ("保留会员", "Survivor"),
        "identity.merged" => ("并入会员", "Merged"),
        "identity.evidence" => ("证据", "Evidence"),
        "identity.merge" => ("合并", "Merge"),
        "identity.merges" => ("合并记录", "Merges"),
        "identity.when" => ("时间 · 操作人", "When · by"),
        "identity.undo" => ("撤销", "Undo"),
        "identity.undone" => ("已撤销", "undone"),
        "identity.done" => ("完成，移动订单数：", "Done; orders moved:"),
        "identity.identities" => ("身份", "Identities"),
        "identity.kind" => ("类型", "Kind"),
        "identity.value" => ("值", "Value"),
        "identity.loaded_for" => ("所属会员编号", "Loaded for"),
        "privacy.note" => (
            "会员依《个人信息保护法》行使权利：查阅、删除，以及到期不再保留个人信息。每项操作均记入审计日志。",
            "Members' rights under PIPL: access, erasure, and personal data kept no longer than needed. Each is audited.",
        ),
        "privacy.access" => ("查阅请求（第四十五条）", "Access request (art. 45)"),
        "privacy.member" => ("会员编号或完整手机号", "Member id or whole phone number"),
        "privacy.by" => ("按", "By"),
        "privacy.by_id" => ("会员编号", "member id"),
        "privacy.by_phone" => ("手机号", "phone number"),
        "privacy.show" => ("生成文档", "Produce the document"),
        "privacy.erase" => ("删除请求（第四十七条）", "Erasure request (art. 47)"),
        "privacy.erase_note" => (
            "姓名和手机号从所有存储中删除；会员编号换成假名，各项指标保持不变。之后再导入该会员编号或手机号的数据会被拒绝。",
            "Name and phone are removed from every store; the member id becomes a pseudonym, so no figure changes. Later loads carrying the id or phone are refused.",
        ),
        "privacy.reason" => ("原因（请求编号）", "Reason (the request's reference)"),
        "privacy.sure" => ("确认删除，无法撤销", "I understand this cannot be undone"),
        "privacy.erase_button" => ("删除该会员的个人信息", "Erase this member"),
        "privacy.erased" => ("已删除。假名：", "Erased. Pseudonym:"),
        "privacy.retention" => ("保留期限", "Retention"),
        "privacy.retention_note" => (
            "启用 --personal-data-retention-days 后，每日删除长期无购买、无同意变更的会员的姓名和手机号。启用前先预览数量。",
            "With --personal-data-retention-days, a daily job removes the name and phone of members with no purchase and no consent activity for that long. Preview the count before switching it on.",
        ),
        "privacy.days" => ("天数", "Days"),
        "privacy.preview" => ("预览", "Preview"),
        "privacy.would_strip" => ("将删除个人信息的会员：", "Members it would strip:"),
        "privacy.cutoff" => ("此时间以来无活动：", "no activity since"),
        "privacy.job_on" => ("每日任务已启用，天数", "daily job on, days"),
        "privacy.job_off" => ("每日任务未启用", "daily job off"),
        "nav.loads" => ("数据导入", "Data loads"),
        "segment.size_over_time" => {
            ("近8个30天窗口末的会员数", "Members at the end of each of the last eight 30-day windows")
        }
        "rfm_rules" => ("RFM分群规则", "RFM segment rules"),
        "rfm_rules.priority" => ("优先级", "Priority"),
        "rfm_rules.key" => ("键", "Key"),
        "rfm_rules.name_zh" => ("中文名", "Chinese name"),
        "rfm_rules.name_en" => ("英文名", "English name"),
        "rfm_rules.add" => ("添加规则", "Add a rule"),
        "rfm_rules.remove" => ("删除", "Remove"),
        "rfm_rules.save" => ("保存规则表", "Save the rule table"),
        "rfm_rules.saved" => ("规则表已保存", "Rule table saved"),
        "loads.rejects" => ("被拒绝的行", "Rejected rows"),
        "loads.line" => ("行号", "Line"),
        "loads.field" => ("字段", "Field"),
        "loads.value" => ("值", "Value"),
        "loads.reason" => ("原因", "Reason"),
        "loads.more" => ("未列出的拒绝行:", "Rejected rows not listed:"),
        "sign_out" => ("退出", "Sign out"),
        "sign_in" => ("登录", "Sign in"),
        "signin.title" => ("登录 MemberPulse", "Sign in to MemberPulse"),
        "signin.name" => ("用户名", "User name"),
        "signin.password" => ("密码", "Password"),
        "signin.wrong" => ("用户名或密码不正确。", "Wrong user name or password."),
        "signin.locked" => {
            ("密码错误次数过多,账户已锁定15分钟。", "Too many wrong passwords: the account is locked for 15 minutes.")
        }
        "signin.busy" => ("尝试过于频繁,请一分钟后再试。", "Too many attempts from here: try again in a minute."),
        "signin.hint" => (
            "还没有账户?管理员可用 memberpulse user add 创建。",
            "No account yet? An admin creates one with memberpulse user add.",
        ),
        "admin.users" => ("用户", "Users"),
        "admin.loads" => ("数据导入", "Data loads"),
        "admin.upload" => ("上传并导入", "Upload and load"),
        "admin.file" => ("文件 (CSV 或 Parquet)", "File (CSV or Parquet)"),
        "admin.table" => ("数据表", "Table"),
        "admin.upload_note" => (
            "文件在服务器上校验并导入,导入后即删除;每行错误都列在报告中。",
            "The server checks and loads the file, then deletes it; every rejected row is in the report.",
        ),
        "admin.rows_read" => ("读取行", "Rows read"),
        "admin.inserted" => ("新增", "Inserted"),
        "admin.duplicates" => ("已存在", "Already present"),
        "admin.rejected" => ("拒绝", "Rejected"),
        "admin.load_failed" => ("导入失败:", "The load failed:"),
        "admin.tokens" => ("API 令牌", "API tokens"),
        "admin.audit" => ("审计日志", "Audit log"),
        "admin.export" => ("导出 CSV", "Export CSV"),
        "admin.add_user" => ("添加用户", "Add user"),
        "admin.new_password" => ("新密码", "New password"),
        "admin.set_password" => ("设置", "Set"),
        "admin.role" => ("角色", "Role"),
        "admin.disabled" => ("已停用", "Disabled"),
        "admin.disable" => ("停用", "Disable"),
        "admin.enable" => ("启用", "Enable"),
        "admin.created" => ("创建时间", "Created"),
        "admin.add_token" => ("创建令牌", "Create token"),
        "admin.scope" => ("范围", "Scope"),
        "admin.revoke" => ("吊销", "Revoke"),
        "admin.revoked" => ("已吊销", "Revoked"),
        "admin.last_used" => ("最近使用", "Last used"),
        "admin.secret_once" => ("令牌只显示这一次:", "The token is shown this once:"),
        "admin.when" => ("时间", "When"),
        "admin.who" => ("用户", "Who"),
        "admin.action" => ("操作", "Action"),
        "admin.target" => ("对象", "Target"),
        "admin.filter" => ("筛选", "Filter"),
        "admin.name" => ("名称", "Name"),
        "lang.switch" => ("English", "中文"),
        "loading" => ("加载中…", "Loading…"),
        "fitting" => ("拟合中…", "Fitting…"),
        "empty" => ("没有数据", "Nothing to show"),
        "not_found" => ("页面不存在", "Page not found"),
        "error.title" => ("出错了", "Something went wrong"),
        "error.not_for_role" => ("此页面不对您的角色开放", "This page is not available for your role"),
        "error.not_for_role.why" => (
            "您的账户角色不能查看这里的内容。如确需查看，请联系管理员调整角色。",
            "Your account's role cannot see what is here. If you need it, ask an admin to change your role.",
        ),
        "error.signed_out" => ("登录已失效，请重新登录", "Your session has ended: please sign in again"),
        "error.back" => ("返回概览", "Back to the overview"),
        "find.label" => ("查找会员", "Find a member"),
        "segment.save" => ("保存为分群", "Save as segment"),
        "segment.edit" => ("编辑", "Edit"),
        "segment.delete" => ("删除", "Delete"),
        "segment.name_en.required" => ("英文名", "English name"),
        "segment.save.button" => ("保存", "Save"),
        "segment.key" => ("标识（小写字母、数字、_ 或 -）", "Key (lowercase letters, digits, _ or -)"),
        "segment.name_zh" => ("中文名", "Chinese name"),
        "segment.name_en" => ("英文名（可不填）", "English name (optional)"),
        "segment.saved" => ("已保存为分群。", "Saved as a segment."),
        "find.placeholder" => ("会员号或完整手机号", "Member id or whole phone"),
        "find.showing" => ("查找结果", "Looking up"),
        "find.clear" => ("清除", "Clear"),
        "as_of" => ("截止日期", "As of"),
        "window" => ("窗口", "Window"),
        "compare" => ("对比", "Compare with"),
        "compare.previous" => ("上一窗口", "Previous window"),
        "compare.year" => ("去年同期", "Year earlier"),
        "window.7d" => ("近7天", "7 days"),
        "window.30d" => ("近30天", "30 days"),
        "window.90d" => ("近90天", "90 days"),
        "window.365d" => ("近365天", "365 days"),
        "vs" => ("对比", "vs"),
        "more_metrics" => ("更多指标", "More metrics"),
        "trend" => ("趋势", "Trend"),
        "lifecycle" => ("生命周期分布", "Lifecycle stages"),
        "tier_mix" => ("等级分布", "Tier mix"),
        "channel_mix" => ("渠道分布", "Channel mix"),
        "points" => ("积分", "Points"),
        "points.earned" => ("发放积分", "Points earned"),
        "points.redeemed" => ("使用积分", "Points redeemed"),
        "cohorts" => ("同期群留存", "Cohort retention"),
        "cohort.month" => ("入会月", "Join month"),
        "cohort.age" => ("入会后月数", "Months since joining"),
        "alerts" => ("告警", "Alerts"),
        "filters" => ("筛选", "Filters"),
        "filters.none" => ("全部会员", "All members"),
        "filter.remove" => ("移除筛选", "Remove filter"),
        "segment" => ("分群", "Segment"),
        "metric" => ("指标", "Metric"),
        "dimension" => ("维度", "Dimension"),
        "value" => ("取值", "Value"),
        "current" => ("本期", "Current"),
        "previous" => ("对比期", "Comparison"),
        "change" => ("变化", "Change"),
        "total" => ("合计", "All"),
        "members" => ("会员", "Members"),
        "members.list" => ("会员名单", "Member list"),
        "members.total" => ("位会员", "members"),
        "filter.add" => ("加入筛选", "Filter"),
        "export_csv" => ("导出CSV", "Export CSV"),
        "export_outreach" => ("导出触达名单", "Export for outreach"),
        "export_outreach.help" => (
            "只含同意接收营销信息的会员；未同意的人数见响应头 X-MemberPulse-Left-Out",
            "Only members who gave marketing consent; how many were left out is in the X-MemberPulse-Left-Out header",
        ),
        "consent" => ("营销同意", "Marketing consent"),
        "consent.all" => ("全部", "All"),
        "consent.given" => ("已同意", "Given"),
        "consent.not_given" => ("未同意", "Not given"),
        "consent.withdrawn" => ("已撤回", "Withdrawn"),
        "consent.unrecorded" => ("未记录", "Not recorded"),
        "consent.history" => ("同意记录", "Consent history"),
        "consent.channel" => ("渠道", "Channel"),
        "consent.recorded" => ("记录于", "Recorded"),
        "page" => ("页", "Page"),
        "prev_page" => ("上一页", "Previous"),
        "next_page" => ("下一页", "Next"),
        "member_id" => ("会员ID", "Member ID"),
        "name" => ("姓名", "Name"),
        "phone" => ("手机", "Phone"),
        "region" => ("区域", "Region"),
        "tier" => ("等级", "Tier"),
        "joined_at" => ("入会时间", "Joined"),
        "last_purchase_at" => ("最近购买", "Last purchase"),
        "purchases" => ("购买次数", "Purchases"),
        "revenue" => ("累计消费", "Revenue"),
        "points_balance" => ("积分余额", "Points balance"),
        "p_alive" => ("存活概率", "P(alive)"),
        "clv_12m" => ("预测LTV(12个月)", "Predicted CLV (12 m)"),
        "stage" => ("生命周期", "Stage"),
        "rfm" => ("RFM评分", "RFM scores"),
        "rfm.grid" => ("RFM 5×5 矩阵", "RFM 5×5 grid"),
        "rfm.recency" => ("R 最近购买", "R recency"),
        "rfm.frequency" => ("F 购买频次", "F frequency"),
        "named_segments" => ("RFM分群", "RFM segments"),
        "saved_segments" => ("已保存分群", "Saved segments"),
        "size" => ("人数", "Size"),
        "ltv" => ("历史LTV", "LTV"),
        "prediction" => ("预测", "Prediction"),
        "expected_purchases" => ("预计购买(30/90/365天)", "Expected purchases (30/90/365 d)"),
        "timeline" => ("时间线", "Timeline"),
        "orders" => ("订单", "Orders"),
        "tier_changes" => ("等级变化", "Tier changes"),
        "profile" => ("资料", "Profile"),
        "order" => ("订单", "Order"),
        "points_entry" => ("积分", "Points"),
        "tier_change" => ("等级", "Tier"),
        "channel" => ("渠道", "Channel"),
        "amount" => ("金额", "Amount"),
        "when" => ("时间", "When"),
        "what" => ("事件", "Event"),
        "detail" => ("明细", "Detail"),
        "none" => ("无", "none"),
        "model.title" => ("预测模型", "Predictive model"),
        "holdout" => ("留出检验", "Holdout check"),
        "holdout.days" => ("留出", "Hold out"),
        "actual" => ("实际", "Actual"),
        "predicted" => ("预测", "Predicted"),
        "alerts.firing" => ("正在告警", "Firing alerts"),
        "alerts.none" => ("没有告警", "No alerts"),
        "alert.state" => ("状态", "State"),
        "alert.severity" => ("级别", "Severity"),
        "alert.rule" => ("规则", "Rule"),
        "alert.drill" => ("查看会员", "Drill down"),
        "alert.ack" => ("确认", "Acknowledge"),
        "alert.snooze" => ("暂停1小时", "Snooze 1 h"),
        "alert.resolve" => ("解决", "Resolve"),
        "alert.rules" => ("告警规则", "Alert rules"),
        "alert.comparison" => ("比较", "Comparison"),
        "alert.threshold" => ("阈值", "Threshold"),
        "alert.renotify" => ("重复提醒(分钟)", "Renotify (minutes)"),
        "alert.channels" => ("通知渠道(JSON)", "Channels (JSON)"),
        "alert.enabled" => ("启用", "Enabled"),
        "alert.create" => ("新建规则", "Create rule"),
        "alert.save" => ("保存", "Save"),
        "alert.saved" => ("已保存", "Saved"),
        "open" => ("未解决", "Open"),
        "firing" => ("告警中", "Firing"),
        "acknowledged" => ("已确认", "Acknowledged"),
        "snoozed" => ("已暂停", "Snoozed"),
        "resolved" => ("已解决", "Resolved"),
        "all" => ("全部", "All"),
        "model.scores_as_of" => ("评分截至", "Scores as of"),
        "model.members" => ("会员", "Members"),
        "model.not_fitted_yet" => ("尚未拟合", "Not fitted yet"),
        "model.annual_discount" => ("年折现率", "Annual discount"),
        "model.at_risk_below_p_alive" => ("存活概率低于此值为风险", "at risk below P(alive)"),
        "model.refitting" => ("重新拟合中", "refitting"),
        "model.last_refit_failed" => ("上次拟合失败", "Last refit failed"),
        "model.bg_nbd_purchases_and_dropout" => ("BG/NBD 购买与流失", "BG/NBD purchases and dropout"),
        "model.gamma_gamma_spend_per_purchase" => ("Gamma-Gamma 客单", "Gamma-Gamma spend per purchase"),
        "model.parameter" => ("参数", "Parameter"),
        "model.estimate" => ("估计", "Estimate"),
        "model.std_error" => ("标准误", "Std. error"),
        "model.actual" => ("实际", "Actual"),
        "model.predicted" => ("预测", "Predicted"),
        "model.repeat_purchases_before" => ("此前复购次数", "Repeat purchases before"),
        "model.purchase_days" => ("购买天数", "Purchase days"),
        "model.fitted_to" => ("拟合至", "Fitted to"),
        "model.predicting_to" => ("预测至", "predicting to"),
        "model.days" => ("天", "days"),
        "model.holdout_actual_vs_predicted_purchases" => {
            ("留出检验：实际与预测购买", "Holdout: actual vs predicted purchases")
        }
        "model.repeat_purchases" => ("此前复购", "Repeat purchases"),
        "model.off_by" => ("偏差", "Off by"),
        "model.30_days" => ("30天", "30 days"),
        "model.90_days" => ("90天", "90 days"),
        "model.180_days" => ("180天", "180 days"),
        _ => return activation::text(key),
    };
    Some(Text { zh, en })
}

/// `t` for the current language, reactive.
pub fn tr(key: &'static str) -> impl Fn() -> String + Clone + Send + Sync + 'static {
    let lang = use_lang();
    move || t(lang.get(), key).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_and_labels() {
        assert_eq!(Lang::from_cookie("a=1; lang=en; b=2"), Lang::En);
        assert_eq!(Lang::from_cookie("lang=zh"), Lang::Zh);
        assert_eq!(Lang::from_cookie(""), Lang::Zh);
        assert_eq!(t(Lang::En, "members"), "Members");
        assert_eq!(t(Lang::Zh, "members"), "会员");
        assert_eq!(t(Lang::En, "no.such.key"), "no.such.key");
        assert_eq!(t(Lang::En, "model.actual"), "Actual");
        assert_eq!(t(Lang::Zh, "model.actual"), "实际");
    }

    #[test]
    fn values_shown_by_name_and_found_again() {
        assert_eq!(value_label(Lang::Zh, Dimension::LifecycleStage, "churned"), "流失");
        assert_eq!(value_label(Lang::En, Dimension::Tier, "(none)"), "No tier");
        assert_eq!(value_label(Lang::Zh, Dimension::Region, "华东"), "华东");
        let stored = ["active", "dormant", "churned"];
        assert_eq!(value_of(Lang::Zh, Dimension::LifecycleStage, stored, "沉睡"), "dormant");
        assert_eq!(value_of(Lang::En, Dimension::LifecycleStage, stored, "Churned"), "churned");
        assert_eq!(value_of(Lang::Zh, Dimension::Region, ["华东"], "华东"), "华东");
    }

    #[test]
    fn every_enumerated_value_has_a_chinese_name() {
        // SPEC §3's enumerations, the churn-risk keys and the default RFM segments.
        for (d, values) in [
            (Dimension::JoinChannel, &["store", "app", "mini_program", "web"][..]),
            (Dimension::PreferredChannel, &["store", "app", "mini_program", "web"][..]),
            (Dimension::Gender, &["F", "M", "(none)"][..]),
            (Dimension::ChurnRisk, &["high_value_at_risk", "at_risk", "likely_active", "(none)"][..]),
            (
                Dimension::RfmSegment,
                &["high_value_loyal", "new", "potential", "at_risk", "dormant", "lost", "no_purchase", "other"][..],
            ),
        ] {
            for v in values {
                let zh = value_label(Lang::Zh, d, v);
                assert!(zh != *v && !zh.is_ascii() || zh == "App", "{d:?} {v} -> {zh}");
            }
        }
        for v in ["earn", "redeem", "expire", "adjust"] {
            assert!(!stored_label(Lang::Zh, Family::PointsKind, v).is_ascii(), "{v}");
        }
        assert_eq!(value_label(Lang::Zh, Dimension::RfmSegment, "potential"), "潜力培育");
        assert_eq!(value_label(Lang::En, Dimension::JoinChannel, "mini_program"), "Mini-program");
        assert_eq!(value_label(Lang::Zh, Dimension::RfmSegment, "vip_custom"), "vip_custom");
        assert_eq!(value_of(Lang::Zh, Dimension::PreferredChannel, ["store", "web"], "网店"), "web");
        // A renamed rule's names win over the defaults; other dimensions are untouched.
        let names = [SegmentName { key: "potential".into(), name_zh: "潜力股".into(), name_en: "Rising".into() }];
        assert_eq!(value_label_named(Lang::Zh, Dimension::RfmSegment, "potential", &names), "潜力股");
        assert_eq!(value_label_named(Lang::En, Dimension::RfmSegment, "potential", &names), "Rising");
        assert_eq!(value_label_named(Lang::Zh, Dimension::RfmSegment, "lost", &names), "已流失");
        assert_eq!(value_label_named(Lang::Zh, Dimension::Tier, "potential", &names), "potential");
    }
}
