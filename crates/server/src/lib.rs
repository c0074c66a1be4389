//! The `tessera` server: settings, application assembly, middleware, TLS and telemetry.
//!
//! It wires the domain crates together and holds no protocol or authentication logic of its
//! own. [`Application::build`] is used both by `tessera serve` and by the tests, which start
//! the whole server in-process on an ephemeral port.
// The binary's assembly is an edge: startup, the CLI and middleware read the clock.
#![allow(clippy::disallowed_methods)]

pub mod cli;
mod http;
pub mod settings;
mod startup;
pub mod telemetry;
mod tls;

pub use startup::{Application, BASE_XML, StartupError, open_config, open_store, resolve_kek};
