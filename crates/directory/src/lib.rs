//! The in-memory directory: the LDAP tree built from the store, its indexes, search filters and
//! access control. Reads are served from an immutable [`View`]; [`Directory`] swaps in a new
//! view whenever the store's revision changes.
//!
//! **Invariant: the store is the one source of truth**; nothing here writes to it, and a view
//! is never changed after it is built.

pub mod access;
mod apply;
mod block;
pub mod build;
pub mod chunked;
mod credentials;
mod dn_map;
pub mod entry;
pub mod filter;
mod hits;
mod indexes;
mod key_table;
mod population;
mod pseudonymous;
pub mod render;
mod shared;
mod values;
pub mod view;
pub mod visibility_table;

pub use access::Principal;
pub use apply::NeedsRebuild;
pub use build::Layout;
pub use entry::{Attribute, Readable, Values};
pub use shared::{Directory, DirectoryError};
pub use view::View;
