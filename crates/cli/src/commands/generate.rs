//! The hidden commands `generate-manpages DIR` and `generate-completions SHELL`: manual pages
//! (clap_mangen) and shell completions (clap_complete) made from the command line's own
//! definition, so `scripts/package` ships pages and completions of exactly the binary it packages.

use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use crate::args::Cli;

/// Writes `piratenldap.1` and one page per visible subcommand (`piratenldap-member-import.1`, …)
/// into `dir`, uncompressed (the package script compresses them).
pub fn manpages(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    clap_mangen::generate_to(Cli::command(), dir)
        .with_context(|| format!("writing the manual pages into {}", dir.display()))
}

/// Prints the completion script for `shell` on standard output. The script is made in memory
/// first: clap_complete panics on a failed write (a closed pipe), this returns the error.
pub fn completions(shell: Shell) -> Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "piratenldap", &mut script);
    let mut out = std::io::stdout().lock();
    std::io::Write::write_all(&mut out, &script)
        .and_then(|()| std::io::Write::flush(&mut out))
        .context("writing the completion script")
}
