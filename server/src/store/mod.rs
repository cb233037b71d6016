//! The two stores: the analytics store (DuckDB, the data contract's tables and what is
//! derived from them) and the operational store (sqlx: what people and processes create).

pub mod analytics;
pub mod operational;
pub mod schema;
pub mod seal;
pub mod sql;

pub use analytics::Analytics;
pub use seal::Seal;
pub use sql::Sql;
