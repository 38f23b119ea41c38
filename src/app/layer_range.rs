//! A range over the w+ entries (which of them come from the second face), with coarse /
//! middle / fine presets and a row showing each entry's source: the Mix view's layer-range
//! mixer and the Random view's style mixing of two seeds.

use std::ops::Range;

/// Presets as fractions of the w+ entries (coarse: pose and shape, middle: features, fine:
/// colours and micro-structure; StyleGAN's 4/4/10 split at 1024).
pub fn presets(n: usize) -> [(&'static str, Range<usize>); 3] {
    let coarse = (n * 4 / 18).max(1);
    let middle = (n * 8 / 18).max(coarse + 1).min(n);
    [
        ("Coarse", 0..coarse),
        ("Middle", coarse..middle),
        ("Fine", middle.min(n - 1)..n),
    ]
}

/// Draws the range of `n` entries now `current` (entries in it come from `b`, the others
/// from `a`); returns the range the user chose, when it changed.
pub fn ui(
    ui: &mut egui::Ui,
    n: usize,
    current: &Range<usize>,
    (a, b): (&str, &str),
) -> Option<Range<usize>> {
    let mut chosen = None;
    let (mut start, mut end) = (current.start, current.end);
    ui.horizontal(|ui| {
        ui.label(format!("{b}'s w+ entries in {a}: from"));
        let from = ui.add(egui::Slider::new(&mut start, 0..=n.saturating_sub(1)));
        ui.label("to");
        let to = ui.add(egui::Slider::new(&mut end, 1..=n.max(1)));
        if (from.changed() || to.changed()) && start < end {
            chosen = Some(start..end);
        }
        for (name, range) in presets(n.max(1)) {
            if ui.selectable_label(*current == range, name).clicked() {
                chosen = Some(range);
            }
        }
    });
    ui.horizontal(|ui| {
        ui.small("entries:");
        for i in 0..n {
            let from_b = current.contains(&i);
            ui.label(
                egui::RichText::new(if from_b { b } else { a })
                    .monospace()
                    .small()
                    .color(if from_b {
                        egui::Color32::from_rgb(90, 170, 250)
                    } else {
                        ui.visuals().weak_text_color()
                    }),
            );
        }
    });
    chosen.filter(|r| r != current)
}
