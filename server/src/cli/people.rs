//! `memberpulse user`, `token`, `segments` and `privacy`: people, ingest tokens, saved
//! segments and members' rights.

use app::model::Segment;

use super::{SegmentAction, TokenAction, UserAction};
use crate::{Error, Result, access::Caller, service::Services, store::operational};

/// A password from standard input (one line), or a new random one that is printed.
fn password(from_stdin: bool) -> Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let made = crate::access::users::secret("")[..20].to_string();
    println!("password: {made}   (shown once; change it with `memberpulse user set --password-stdin`)");
    Ok(made)
}

pub(super) async fn user(ops: &operational::Pool, action: UserAction) -> Result<()> {
    use app::model::UserChange;
    let who = Caller::cli();
    match action {
        UserAction::Add { name, role, password_stdin, if_missing } => {
            if if_missing && crate::access::users::get(ops, &name).await.is_ok() {
                println!("user {name} exists");
                return Ok(());
            }
            let password = password(password_stdin)?;
            let change = UserChange { name, role: Some(role), password: Some(password), disabled: None };
            let u = crate::access::create_user(ops, &who, change).await?;
            println!("added {} ({}); sign in at the server's /signin", u.name, u.role.key());
        }
        UserAction::List => {
            for u in crate::access::list_users(ops, &who).await? {
                let state = if u.disabled {
                    "disabled"
                } else if u.locked_until.is_some() {
                    "locked"
                } else {
                    ""
                };
                println!("{:<24} {:<10} {:<22} {state}", u.name, u.role.key(), u.created_at);
            }
        }
        UserAction::Set { name, role, password_stdin, new_password, disable, enable } => {
            let password = if password_stdin || new_password { Some(password(password_stdin)?) } else { None };
            let disabled = if disable {
                Some(true)
            } else if enable {
                Some(false)
            } else {
                None
            };
            let u = crate::access::update_user(ops, &who, UserChange { name, role, password, disabled }).await?;
            println!("{} is {}{}", u.name, u.role.key(), if u.disabled { ", disabled" } else { "" });
        }
    }
    Ok(())
}

pub(super) async fn token(ops: &operational::Pool, action: TokenAction) -> Result<()> {
    let who = Caller::cli();
    match action {
        TokenAction::Add { name, scope, role } => {
            let t = crate::access::create_token(ops, &who, app::model::TokenRequest { name, scope, role }).await?;
            println!("token {} ({}, {}): {}", t.id, t.scope, t.role.key(), t.secret.unwrap_or_default());
            println!("(shown once: present it as `Authorization: Bearer <token>`)");
        }
        TokenAction::List => {
            for t in crate::access::list_tokens(ops, &who).await? {
                let state = t.revoked_at.as_deref().map(|r| format!("revoked {r}")).unwrap_or_default();
                println!("{:<5} {:<24} {:<7} {:<10} {:<22} {state}", t.id, t.name, t.scope, t.role.key(), t.created_at);
            }
        }
        TokenAction::Revoke { id } => {
            let t = crate::access::revoke_token(ops, &who, id).await?;
            println!("revoked token {} ({})", t.id, t.name);
        }
    }
    Ok(())
}

pub(super) async fn segments(services: &Services, action: Option<SegmentAction>) -> Result<()> {
    match action.unwrap_or(SegmentAction::List) {
        SegmentAction::List => {
            for s in services.segments(&Caller::cli()).await? {
                println!("{:<24} {:<16} {:<24} {}", s.key, s.name_zh, s.name_en, s.filters);
            }
        }
        SegmentAction::Save { key, filters, name_zh, name_en } => {
            let segment = Segment { key, name_zh, name_en, filters };
            let saved = match services.create_segment(&Caller::cli(), segment.clone()).await {
                Err(Error::Conflict(_)) => services.update_segment(&Caller::cli(), segment).await?,
                other => other?,
            };
            println!("saved segment {} ({})", saved.key, saved.filters);
        }
        SegmentAction::Delete { key } => {
            services.delete_segment(&Caller::cli(), &key).await?;
            println!("deleted segment {key}");
        }
    }
    Ok(())
}

/// `memberpulse privacy access|erase`: asked of the running server (as its local admin)
/// when there is one, else of the stores opened here.
pub(super) async fn privacy(cli: &super::Cli, action: super::PrivacyAction) -> Result<()> {
    use app::model::PrivacyRequest;
    let (path, request) = match action {
        super::PrivacyAction::Access { member, phone, html } => (
            "access",
            PrivacyRequest { member_id: member, phone, reason: None, format: html.then(|| "html".to_string()) },
        ),
        super::PrivacyAction::Erase { member, phone, reason } => {
            ("erase", PrivacyRequest { member_id: member, phone, reason: Some(reason), format: None })
        }
    };
    if let Some(info) = crate::http::ServerInfo::read(&cli.data_dir)
        && let Some(r) = super::data::post_to_server(&info, &format!("/api/v1/privacy/{path}"), &request).await?
    {
        return super::data::print_answer(r).await;
    }
    let services = super::open(cli).await?;
    let who = Caller::cli();
    let text = match path {
        "access" => {
            let document = services.access_document(&who, &request).await?;
            match request.format.as_deref() {
                Some("html") => crate::privacy::access::html(&document),
                _ => serde_json::to_string_pretty(&document).unwrap_or_default(),
            }
        }
        _ => serde_json::to_string_pretty(&services.erase_member(&who, &request).await?).unwrap_or_default(),
    };
    println!("{text}");
    Ok(())
}
