//! How a file's columns feed a table's fields (a TOML mapping), and a load request.

use super::*;

/// Where a field's value comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Source {
    /// `field = "Column"`
    Column(String),
    Spec(SourceSpec),
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// The file's column.
    pub column: Option<String>,
    /// A constant used for every row instead of a column.
    pub value: Option<String>,
    /// For date-times: a strptime format such as `%d/%m/%Y %H:%M`.
    pub format: Option<String>,
    /// For ids exported as numbers (`17850.0`): drop a trailing `.0`.
    #[serde(default)]
    pub integer: bool,
}

/// How a retailer's file maps onto MemberPulse's tables.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub kind: Kind,
    /// Field → source. Fields not listed are read from a column of the same name, if any.
    #[serde(default)]
    pub fields: BTreeMap<String, Source>,
    /// CSV field separator (default `,`).
    pub delimiter: Option<String>,
    /// For order lines: orders whose id starts with this prefix are returns; their
    /// amounts count as negative whatever the sign in the file.
    pub return_prefix: Option<String>,
    /// For orders and order lines: members not yet stored are created from their orders,
    /// joined at their first order.
    #[serde(default)]
    pub derive_members: bool,
    /// For orders, points and tier changes: the file names members by this identity
    /// (`pos_card`, `mini_program_openid`, `wechat_unionid`, `app_account`, `web_account`,
    /// `phone`) in the `member_id` field, not by member id; each row lands on the member
    /// who has it (`crate::identity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_identity: Option<String>,
}

impl Mapping {
    pub fn identity(kind: Kind) -> Mapping {
        Mapping {
            kind,
            fields: BTreeMap::new(),
            delimiter: None,
            return_prefix: None,
            derive_members: false,
            member_identity: None,
        }
    }

    /// The identity kind the `member_id` field holds, if the mapping names one; an error
    /// for an unknown kind, a table without members or members derived from orders.
    pub fn identity_kind(&self) -> std::result::Result<Option<&'static str>, String> {
        let Some(text) = self.member_identity.as_deref() else { return Ok(None) };
        let kind = crate::derive::identities::kind("member_identity", text).map_err(|e| e.to_string())?;
        if !matches!(self.kind, Kind::Orders | Kind::Points | Kind::TierChanges | Kind::OrderLines) {
            return Err(format!(
                "member_identity: only orders, order lines, points and tier changes name members by an identity, not {}",
                self.kind.name()
            ));
        }
        if self.derive_members {
            return Err("member_identity: members cannot be derived from orders that name them by an identity".into());
        }
        Ok(Some(kind))
    }

    pub fn from_file(path: &Path) -> Result<Mapping> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Load(format!("{}: cannot read mapping: {e}", path.display())))?;
        Mapping::from_toml(&text, &path.display().to_string())
    }

    /// A mapping from its TOML text; errors name `origin` (the file, or an upload's field).
    pub fn from_toml(text: &str, origin: &str) -> Result<Mapping> {
        let mapping: Mapping = toml::from_str(text).map_err(|e| Error::Load(format!("{origin}: {e}")))?;
        mapping.identity_kind().map_err(|e| Error::Load(format!("{origin}: {e}")))?;
        for name in mapping.fields.keys() {
            if !mapping.kind.fields().iter().any(|f| f.name == name) {
                let known: Vec<_> = mapping.kind.fields().iter().map(|f| f.name).collect();
                return Err(Error::Load(format!(
                    "{origin}: unknown field {name:?} for {}; fields are {}",
                    mapping.kind.name(),
                    known.join(", ")
                )));
            }
        }
        Ok(mapping)
    }
}

/// A load to run: a file and how to read it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoadRequest {
    /// The file: for `POST /api/v1/loads`, inside the server's import folder (relative
    /// to it, or in full).
    #[schema(value_type = String)]
    pub path: PathBuf,
    pub mapping: Mapping,
    /// How reports and errors name the file (an upload's own name, or the path the CLI was
    /// given); its path by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl LoadRequest {
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.path.display().to_string())
    }
}
