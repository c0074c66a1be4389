//! Admin HTTP surface.
