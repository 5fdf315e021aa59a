//! Integration tests: real OpenSSH servers on loopback, the real roadie binary.
//! One test binary (modules below) keeps linking fast.

mod ad_hoc;
mod agent;
mod algorithms;
mod auth;
mod certificates;
mod debug;
mod demo;
mod deploy;
mod deploy_templates;
mod diagnose;
mod fixtures;
mod fleet;
mod host_keys;
mod library;
mod logs;
mod network;
mod persist;
mod proxy;
mod publish;
mod python;
mod regressions;
mod run;
mod safeguards;
mod sandbox;
mod shell;
mod snapshots;
mod ssh_config;
mod stacks;
mod support;
mod transfer;
mod tunnels;
mod watch_memory;
