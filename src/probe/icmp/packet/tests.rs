//! Echo requests byte for byte, and what a received message means.
use super::*;
