//! The dispatcher: one LDAP message in, the messages to send back out, plus what the connection
//! must do next. One module per operation.

mod bind;
mod compare;
mod extended;
mod external;
mod rootdse;
mod search;
mod write;

use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{LdapExtendedResponse, LdapMsg, LdapOp, LdapResult, LdapResultCode};

use time::OffsetDateTime;

use crate::session::{Context, Session};

pub use rootdse::subschema_entry;

/// Control OID of simple paged results (RFC 2696).
pub const OID_PAGED_RESULTS: &str = "1.2.840.113556.1.4.319";
/// Control OID of ManageDsaIT (RFC 3296); accepted, we hold no referrals.
pub const OID_MANAGE_DSA_IT: &str = "2.16.840.1.113730.3.4.2";
/// Extended operation OID of StartTLS (RFC 4511).
pub const OID_STARTTLS: &str = "1.3.6.1.4.1.1466.20037";

/// What the connection does after sending the responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Read the next request.
    Continue,
    /// Start TLS on this connection now.
    StartTls,
    /// Close the connection.
    Close,
}

/// Messages made one at a time as the connection writes them.
pub type Stream = Box<dyn Iterator<Item = LdapMsg> + Send>;

/// The handler's answer.
pub struct Outcome {
    /// Messages to send, in order.
    pub messages: Vec<LdapMsg>,
    /// More messages to send after those, made as the socket takes them (search results).
    pub stream: Option<Stream>,
    /// What to do next.
    pub after: After,
}

impl Outcome {
    fn one(msgid: i32, op: LdapOp) -> Self {
        vec![LdapMsg::new(msgid, op)].into()
    }

    /// An answer made while it is written.
    pub fn streamed(stream: impl Iterator<Item = LdapMsg> + Send + 'static) -> Self {
        Outcome {
            messages: Vec::new(),
            stream: Some(Box::new(stream)),
            after: After::Continue,
        }
    }
}

impl From<Vec<LdapMsg>> for Outcome {
    fn from(messages: Vec<LdapMsg>) -> Self {
        Outcome {
            messages,
            stream: None,
            after: After::Continue,
        }
    }
}

/// A result with a diagnostic message.
pub fn result(code: LdapResultCode, message: impl Into<String>) -> LdapResult {
    LdapResult {
        code,
        matcheddn: String::new(),
        message: message.into(),
        referral: Vec::new(),
    }
}

/// Handles one request received at `now`.
pub async fn dispatch(ctx: &Context, session: &mut Session, msg: LdapMsg, now: OffsetDateTime) -> Outcome {
    let LdapMsg { msgid, op, ctrl } = msg;
    if let Some(oid) = unsupported_critical_control(&ctrl) {
        let res = result(
            LdapResultCode::UnavailableCriticalExtension,
            format!("critical control {oid} is not supported"),
        );
        return match error_response(&op, res) {
            Some(op) => Outcome::one(msgid, op),
            None => Outcome::from(Vec::new()),
        };
    }
    match op {
        LdapOp::BindRequest(req) => Outcome::one(msgid, LdapOp::BindResponse(bind::bind(ctx, session, req, now).await)),
        LdapOp::UnbindRequest => Outcome {
            messages: Vec::new(),
            stream: None,
            after: After::Close,
        },
        LdapOp::SearchRequest(req) => search::search(ctx, session, msgid, &req, &ctrl).await,
        LdapOp::CompareRequest(req) => Outcome::one(msgid, LdapOp::CompareResult(compare::compare(ctx, session, &req))),
        LdapOp::ExtendedRequest(req) => {
            let (resp, after) = extended::extended(ctx, session, &req, now).await;
            Outcome {
                messages: vec![LdapMsg::new(msgid, LdapOp::ExtendedResponse(resp))],
                stream: None,
                after,
            }
        }
        // Requests run one at a time per connection, so by the time an abandon is read the
        // operation it names has completed; paged searches are abandoned with a size of 0.
        LdapOp::AbandonRequest(_) => Outcome::from(Vec::new()),
        op
        @ (LdapOp::AddRequest(_) | LdapOp::ModifyRequest(_) | LdapOp::DelRequest(_) | LdapOp::ModifyDNRequest(_)) => {
            match error_response(&op, write::refuse()) {
                Some(op) => Outcome::one(msgid, op),
                None => Outcome::from(Vec::new()),
            }
        }
        other => {
            let res = result(
                LdapResultCode::ProtocolError,
                "this message is not a request a server accepts",
            );
            match error_response(&other, res) {
                Some(op) => Outcome::one(msgid, op),
                None => Outcome {
                    messages: vec![notice_of_disconnection("unexpected response message from client")],
                    stream: None,
                    after: After::Close,
                },
            }
        }
    }
}

/// The OID of the first critical control we do not support.
fn unsupported_critical_control(ctrl: &[LdapControl]) -> Option<String> {
    ctrl.iter().find_map(|c| match c {
        LdapControl::SimplePagedResults { .. } => None,
        LdapControl::ManageDsaIT { .. } => None,
        LdapControl::Unknown {
            oid, criticality: true, ..
        } => Some(oid.clone()),
        LdapControl::SyncRequest { criticality: true, .. } => Some("1.3.6.1.4.1.4203.1.9.1.1".into()),
        LdapControl::PasswordPolicyRequest { criticality: true } => Some("1.3.6.1.4.1.42.2.27.8.5.1".into()),
        LdapControl::SearchOptions { criticality: true, .. } => Some("1.2.840.113556.1.4.1340".into()),
        LdapControl::ShowDeleted { criticality: true } => Some("1.2.840.113556.1.4.417".into()),
        LdapControl::SdFlags { criticality: true, .. } => Some("1.2.840.113556.1.4.801".into()),
        LdapControl::ExtendedDn { criticality: true, .. } => Some("1.2.840.113556.1.4.529".into()),
        _ => None,
    })
}

/// The response of the type that answers `op`, carrying `res`; `None` for operations that have
/// no response (unbind, abandon).
fn error_response(op: &LdapOp, res: LdapResult) -> Option<LdapOp> {
    Some(match op {
        LdapOp::BindRequest(_) => LdapOp::BindResponse(ldap3_proto::proto::LdapBindResponse { res, saslcreds: None }),
        LdapOp::SearchRequest(_) => LdapOp::SearchResultDone(res),
        LdapOp::ModifyRequest(_) => LdapOp::ModifyResponse(res),
        LdapOp::AddRequest(_) => LdapOp::AddResponse(res),
        LdapOp::DelRequest(_) => LdapOp::DelResponse(res),
        LdapOp::ModifyDNRequest(_) => LdapOp::ModifyDNResponse(res),
        LdapOp::CompareRequest(_) => LdapOp::CompareResult(res),
        LdapOp::ExtendedRequest(_) => LdapOp::ExtendedResponse(LdapExtendedResponse {
            res,
            name: None,
            value: None,
        }),
        _ => return None,
    })
}

/// The unsolicited Notice of Disconnection (RFC 4511 section 4.4.1).
pub fn notice_of_disconnection(message: &str) -> LdapMsg {
    LdapMsg::new(
        0,
        LdapOp::ExtendedResponse(LdapExtendedResponse {
            res: result(LdapResultCode::ProtocolError, message),
            name: Some("1.3.6.1.4.1.1466.20036".into()),
            value: None,
        }),
    )
}
