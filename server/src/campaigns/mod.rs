//! Campaigns measured against a control group (SPEC §12): a campaign targets a saved
//! segment's members on its start date ([`saved`]), split into a treatment and a control
//! arm by a seeded, stratified draw or an import ([`arms`]); its readout ([`readout`])
//! compares the arms with the statistics of [`stats`].

pub mod arms;
pub mod readout;
pub mod saved;
pub mod stats;
