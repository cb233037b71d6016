//! Types shared by the server, its JSON API and the pages, by area; `catalogue` names
//! every metric, dimension and role once.

mod access;
mod alerts;
mod campaigns;
mod catalogue;
mod dashboard;
mod identity;
mod members;
mod prediction;
mod segments;

pub use access::*;
pub use alerts::*;
pub use campaigns::*;
pub use catalogue::*;
pub use dashboard::*;
pub use identity::*;
pub use members::*;
pub use prediction::*;
pub use segments::*;
