//! Background work: model refits after loads, alert evaluation, notice delivery, folding
//! landed rows into the summary, keeping the member facts current and the default overview computed ahead.

pub mod ahead;
pub mod evaluator;
pub mod folder;
pub mod refit;
