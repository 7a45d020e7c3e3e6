//! The colours every view uses: one per model kind, one per class, and a gray map.

use crate::model::ModelKind;

/// One colour per class (Tableau 10, then repeated lighter).
pub fn class_rgb(class: usize) -> [u8; 3] {
    const TAB10: [[u8; 3]; 10] = [
        [31, 119, 180],
        [255, 127, 14],
        [44, 160, 44],
        [214, 39, 40],
        [148, 103, 189],
        [140, 86, 75],
        [227, 119, 194],
        [127, 127, 127],
        [188, 189, 34],
        [23, 190, 207],
    ];
    let base = TAB10[class % 10];
    if class < 10 {
        base
    } else {
        base.map(|c| c / 2 + 127)
    }
}

/// One colour per model kind (from its table entry), used for curves, frames and headers.
pub fn model_rgb(kind: ModelKind) -> [u8; 3] {
    kind.spec().color
}
