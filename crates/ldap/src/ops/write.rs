//! Add, modify, delete and modify DN: refused. The member database is the one source of
//! truth; it changes through the CLI and the activation portal.

use ldap3_proto::proto::{LdapResult, LdapResultCode};

use super::result;

/// The answer to every write operation.
pub fn refuse() -> LdapResult {
    result(
        LdapResultCode::UnwillingToPerform,
        "the directory is read-only over LDAP: changes are made in the member database with the piratenldap command line (member import, account, group, service) or on the activation portal",
    )
}
