//! The egui window.

/// Opens the window on the built-in digits.
pub fn run() -> anyhow::Result<()> {
    anyhow::bail!("the window is not built yet; use `latentlab train` (see --help)")
}
