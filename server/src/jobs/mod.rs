//! Background work: model refits after loads, alert evaluation, notice delivery, folding
//! landed rows into the summary.

pub mod evaluator;
pub mod folder;
pub mod refit;
