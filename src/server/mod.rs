//! The event loop and its connections: sockets, buffers, timers, back-pressure
//! and limits. The protocol itself lives in [`crate::protocol`]; what to answer
//! is decided by a [`crate::responder::Responder`].

pub mod alloc;
pub mod buffer;
pub mod compress;
pub mod connection;
pub mod encode;
pub mod event_loop;
pub mod keys;
pub mod listener;
pub mod nonce;
pub mod statements;
pub mod stream;
pub mod tls;

pub use event_loop::{Control, EventLoop};
