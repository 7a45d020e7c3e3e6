//! The tabs of the central area, in order. A new tab is one file holding a
//! `Default + View` struct, one `mod` line in `app/mod.rs` and one line in [`all`].

use super::draw::DrawPanel;
use super::grid::GridPanel;
use super::interp::InterpPanel;
use super::kl_dims::KlDimsPanel;
use super::latent::LatentPanel;
use super::lesson_list::LessonListPanel;
use super::recon::ReconPanel;
use super::samples::SamplesPanel;
use super::sliders::SlidersPanel;
use super::traversals::TraversalsPanel;
use super::view::View;

/// A fresh panel for every tab, in tab order.
pub fn all() -> Vec<Box<dyn View>> {
    vec![
        Box::new(LatentPanel::default()),
        Box::new(GridPanel::default()),
        Box::new(SlidersPanel::default()),
        Box::new(ReconPanel::default()),
        Box::new(SamplesPanel::default()),
        Box::new(InterpPanel::default()),
        Box::new(KlDimsPanel),
        Box::new(TraversalsPanel::default()),
        Box::new(DrawPanel::default()),
        Box::new(LessonListPanel::default()),
    ]
}

/// The titles of the window's tabs, in order.
pub fn titles() -> Vec<&'static str> {
    all().iter().map(|v| v.title()).collect()
}
