//! The Lambda handler.
