//! Background work: model refits after loads, alert evaluation, notice delivery, folding
//! landed rows into the summary, the daily retention of personal data, keeping the member facts current and the default overview computed ahead.

pub mod ahead;
pub mod evaluator;
pub mod folder;
pub mod refit;
pub mod retention;
pub mod triggers;
