//! `processor consume`.
