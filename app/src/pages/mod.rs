pub mod overview;
pub mod model;
