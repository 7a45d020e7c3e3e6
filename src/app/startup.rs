//! Repairs what eframe reads before the app exists: a saved zoom out of range makes eframe
//! panic while it sizes the first window, at every start, until the file is deleted by hand.

use std::path::Path;

/// Zoom factors the window accepts from storage.
pub const ZOOM_RANGE: std::ops::RangeInclusive<f32> = 0.5..=3.0;

/// Resets a saved zoom outside [`ZOOM_RANGE`] (or not a number) to 1 in eframe's `app.ron`
/// in `dir`, rewriting the file atomically. Returns the message to show, if it did.
pub fn repair_saved_zoom(dir: &Path) -> Option<String> {
    let path = dir.join("app.ron");
    let text = std::fs::read_to_string(&path).ok()?;
    let (fixed, bad) = fix_zoom(&text)?;
    let tmp = dir.join("app.ron.tmp");
    std::fs::write(&tmp, fixed).ok()?;
    std::fs::rename(&tmp, &path).ok()?;
    Some(format!(
        "the saved zoom {bad} was out of range ({} to {}): reset to 1",
        ZOOM_RANGE.start(),
        ZOOM_RANGE.end()
    ))
}

/// The text with every out-of-range `zoom_factor:` value replaced by `1.0`, and the first
/// bad value as written; `None` if every value is fine.
fn fix_zoom(text: &str) -> Option<(String, String)> {
    const KEY: &str = "zoom_factor:";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut first_bad = None;
    while let Some(at) = rest.find(KEY) {
        let (head, tail) = rest.split_at(at + KEY.len());
        out.push_str(head);
        let len = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || "+-.".contains(c)))
            .unwrap_or(tail.len());
        let value = &tail[..len];
        let ok = value
            .parse::<f32>()
            .is_ok_and(|z| z.is_finite() && ZOOM_RANGE.contains(&z));
        if ok {
            out.push_str(value);
        } else {
            out.push_str("1.0");
            first_bad.get_or_insert_with(|| value.to_string());
        }
        rest = &tail[len..];
    }
    out.push_str(rest);
    first_bad.map(|bad| (out, bad))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_zooms_become_one_and_good_ones_stay() {
        let saved = r#"{"egui": "(options:(zoom_factor:0.0,x:1),data:[])"}"#;
        let (fixed, bad) = fix_zoom(saved).unwrap();
        assert_eq!(bad, "0.0");
        assert_eq!(
            fixed,
            r#"{"egui": "(options:(zoom_factor:1.0,x:1),data:[])"}"#
        );
        assert_eq!(fix_zoom("zoom_factor:1000,").unwrap().0, "zoom_factor:1.0,");
        assert_eq!(fix_zoom("zoom_factor:NaN)").unwrap().1, "NaN");
        assert!(fix_zoom("zoom_factor:1.6,").is_none());
        assert!(fix_zoom("no zoom here").is_none());
    }

    #[test]
    fn the_file_is_repaired_in_place() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.ron"), "(zoom_factor:1e9)").unwrap();
        let message = repair_saved_zoom(dir.path()).expect("repaired");
        assert!(message.contains("1e9"), "{message}");
        let text = std::fs::read_to_string(dir.path().join("app.ron")).unwrap();
        assert_eq!(text, "(zoom_factor:1.0)");
        assert!(
            repair_saved_zoom(dir.path()).is_none(),
            "nothing left to repair"
        );
    }
}
