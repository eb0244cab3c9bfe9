//! Placeholder: the load generator is being written (issue 5).
fn main() {}
