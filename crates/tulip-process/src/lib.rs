//! # tulip-process
//!
//! asyncio's subprocesses for tulip (work in progress in this commit).

#![forbid(unsafe_code)]
