//! The data contract: the tables a load fills (`Kind`) and their fields' types.

use super::*;

/// What a file holds: one of the data-contract tables, or invoice lines that become
/// orders, order items and (optionally) members.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Stores,
    Members,
    Orders,
    OrderItems,
    Points,
    OrderLines,
    TierChanges,
    MemberIdentities,
}

impl Kind {
    pub fn parse(text: &str) -> Result<Kind> {
        Ok(match text {
            "stores" => Kind::Stores,
            "members" => Kind::Members,
            "orders" => Kind::Orders,
            "order_items" => Kind::OrderItems,
            "points" => Kind::Points,
            "order_lines" => Kind::OrderLines,
            "tier_changes" => Kind::TierChanges,
            "member_identities" => Kind::MemberIdentities,
            _ => {
                return Err(Error::bad_param(
                    "table",
                    format!(
                        "expected stores, members, orders, order_items, points, tier_changes, member_identities or order_lines, got {text:?}"
                    ),
                ));
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Stores => "stores",
            Kind::Members => "members",
            Kind::Orders => "orders",
            Kind::OrderItems => "order_items",
            Kind::Points => "points",
            Kind::OrderLines => "order_lines",
            Kind::TierChanges => "tier_changes",
            Kind::MemberIdentities => "member_identities",
        }
    }

    pub(crate) fn fields(self) -> &'static [Field] {
        use Type::*;
        const fn f(name: &'static str, ty: Type, required: bool) -> Field {
            Field { name, ty, required }
        }
        const CHANNELS: &[&str] = &["store", "app", "mini_program", "web"];
        const STORES: &[Field] = &[
            f("store_id", Text, true),
            f("name", Text, false),
            f("region", Text, false),
            f("city", Text, false),
            f("kind", Enum(&["store", "online"]), false),
        ];
        const MEMBERS: &[Field] = &[
            f("member_id", Text, true),
            f("joined_at", Timestamp, true),
            f("join_channel", Enum(CHANNELS), false),
            f("home_store_id", Text, false),
            f("region", Text, false),
            f("tier", Text, false),
            f("gender", Text, false),
            f("birth_year", Int, false),
            f("name", Text, false),
            f("phone", Text, false),
            // Marketing consent as the member gave or withdrew it, when and through
            // which channel (when empty: at joined_at). A row that differs from every
            // consent recorded for the member adds to their history
            // (`crate::derive::consent`), a member already stored included.
            f("marketing_consent", Bool, false),
            f("consent_at", Timestamp, false),
            f("consent_channel", Text, false),
        ];
        const ORDERS: &[Field] = &[
            f("order_id", Text, true),
            f("ordered_at", Timestamp, true),
            f("net_amount", Money, true),
            f("member_id", Text, false),
            f("channel", Enum(CHANNELS), false),
            f("store_id", Text, false),
            f("item_count", Int, false),
            f("discount_amount", Money, false),
            f("coupon_id", Text, false),
        ];
        const ORDERITEMS: &[Field] = &[
            f("order_id", Text, true),
            f("sku", Text, true),
            f("quantity", Int, true),
            f("amount", Money, true),
            f("category", Text, false),
            f("line_no", Int, false),
        ];
        const POINTS: &[Field] = &[
            f("entry_id", Text, true),
            f("member_id", Text, true),
            f("occurred_at", Timestamp, true),
            f("kind", Enum(&["earn", "redeem", "expire", "adjust"]), true),
            f("points", Int, true),
            f("source", Enum(&["purchase", "review", "referral", "check_in", "campaign"]), false),
            f("order_id", Text, false),
        ];
        const ORDERLINES: &[Field] = &[
            f("order_id", Text, true),
            f("ordered_at", Timestamp, true),
            f("sku", Text, true),
            f("quantity", Int, true),
            f("unit_price", Price, true),
            f("member_id", Text, false),
            f("channel", Enum(CHANNELS), false),
            f("store_id", Text, false),
            f("category", Text, false),
            f("region", Text, false),
        ];
        const TIERCHANGES: &[Field] =
            &[f("member_id", Text, true), f("changed_at", Timestamp, true), f("tier", Text, true)];
        // A member's other ids (`crate::identity`); a phone is kept as its keyed hash.
        const IDENTITIES: &[Field] =
            &[f("member_id", Text, true), f("kind", Enum(&app::model::IDENTITY_KINDS), true), f("value", Text, true)];
        match self {
            Kind::MemberIdentities => IDENTITIES,
            Kind::TierChanges => TIERCHANGES,
            Kind::Stores => STORES,
            Kind::Members => MEMBERS,
            Kind::Orders => ORDERS,
            Kind::OrderItems => ORDERITEMS,
            Kind::Points => POINTS,
            Kind::OrderLines => ORDERLINES,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Type {
    Text,
    Timestamp,
    /// Exact to the cent: DECIMAL(18,2).
    Money,
    /// A unit price, kept to 1/10000 until multiplied by a quantity.
    Price,
    /// A whole number; `6.0` reads as 6, `6.5` is rejected.
    Int,
    Enum(&'static [&'static str]),
    /// `true`/`false`, also `1`/`0`, `yes`/`no`, `y`/`n`, `是`/`否` (any case).
    Bool,
}

/// The texts a [`Type::Bool`] takes for true and for false.
pub(crate) const TRUE_TEXTS: [&str; 5] = ["true", "1", "yes", "y", "是"];
pub(crate) const FALSE_TEXTS: [&str; 5] = ["false", "0", "no", "n", "否"];

impl Type {
    pub(crate) fn describe(self) -> String {
        match self {
            Type::Text => "text".into(),
            Type::Timestamp => "a date-time from 1900-01-01 to 2999-12-31".into(),
            Type::Money => "an amount with at most 2 decimals, below 10,000,000,000".into(),
            Type::Price => "a price below 10,000,000,000 with at most 4 decimals".into(),
            Type::Int => "a whole number below 1,000,000,000".into(),
            Type::Enum(values) => format!("one of {}", values.join(", ")),
            Type::Bool => "true or false (or 1/0, yes/no, 是/否)".into(),
        }
    }

    /// For money, prices and whole numbers: the type their values are kept as, the
    /// decimals it keeps, and the digits before the point (values lie below 10^digits) —
    /// money below 1e10 with at most 2 decimals, prices below 1e10 with 4, whole numbers
    /// below 1e9. The bounds leave room for what adds them up: whole numbers fit the
    /// INTEGER columns (quantities, line numbers), and a member's summed cents or points
    /// stay far inside BIGINT.
    pub(crate) fn number_shape(self) -> Option<(&'static str, u32, u32)> {
        match self {
            Type::Money => Some(("DECIMAL(18,2)", 2, 10)),
            Type::Price => Some(("DECIMAL(18,4)", 4, 10)),
            Type::Int => Some(("BIGINT", 0, 9)),
            _ => None,
        }
    }

    /// 10^digits of [`Type::number_shape`], written as an exact integer in SQL (a DOUBLE
    /// 1e15 would round 999999999999999.99 up to it).
    pub(crate) fn number_bound(self) -> u64 {
        self.number_shape().map_or(0, |(_, _, digits)| 10u64.pow(digits))
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) ty: Type,
    pub(crate) required: bool,
}
