//! The in-memory directory: the LDAP tree built from the store, its indexes, search filters and
//! access control. Reads are served from an immutable [`View`]; [`Directory`] swaps in a new
//! view whenever the store's revision changes.
//!
//! **Invariant: the store is the one source of truth**; nothing here writes to it, and a view
//! is never changed after it is built.

pub mod access;
pub mod build;
pub mod entry;
pub mod filter;
mod pseudonymous;
pub mod render;
mod shared;
pub mod view;
pub mod visibility_table;

pub use access::Principal;
pub use build::Layout;
pub use shared::{Directory, DirectoryError};
pub use view::View;
