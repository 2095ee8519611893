//! The host side of each WIT import.
