//! Campaigns measured against a control group (SPEC §12, issue 24). Built so far: the
//! readout's statistics ([`stats`]), checked against SciPy. Triggers, campaign
//! definitions, the control draw and the readout page are not built yet.

pub mod stats;
