//! The compact cluster model and the indexed view that policies query.
