//! The Random view: a face drawn from a seed at truncation ψ, optionally style-mixed with a
//! second seed over a range of w+ entries (as NVIDIA's visualizer does).

use super::state::{Action, EditorState};
use super::textures::{Textures, square};
use super::{dialogs, layer_range};
use crate::workspace::SeedMix;

#[derive(Default)]
pub struct RandomView;

impl RandomView {
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        state: &EditorState,
        textures: &mut Textures,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        let params = state.params;
        ui.horizontal(|ui| {
            let mut seed = params.seed;
            ui.label("Seed");
            if ui.add(egui::DragValue::new(&mut seed).speed(1.0)).changed() {
                actions.push(Action::SetSeed(seed));
            }
            if ui.button("Random seed").clicked() {
                actions.push(Action::SetSeed(rand::random::<u32>() as u64));
            }
            let mut psi = params.truncation;
            if ui
                .add(egui::Slider::new(&mut psi, 0.0..=1.0).text("truncation ψ"))
                .changed()
            {
                actions.push(Action::SetTruncation(psi));
            }
            if state.frame.is_some()
                && ui
                    .button("Edit this face")
                    .on_hover_text("Open it in the library: sliders, mixing, personalization")
                    .clicked()
            {
                actions.push(Action::EditSeed);
            }
            if let Some((shown, frame)) = &state.frame
                && ui.button("Export…").clicked()
                && let Some(path) = dialogs::save_png(&format!("face_seed{}.png", shown.seed))
            {
                actions.push(Action::SaveFrame {
                    frame: frame.clone(),
                    path,
                });
            }
        });
        let n = state.config.as_ref().map_or(1, |c| c.n_latent());
        ui.horizontal(|ui| {
            let mut on = params.mix.is_some();
            if ui
                .checkbox(&mut on, "Style-mix with seed")
                .on_hover_text("Take a range of w+ entries from a second seed")
                .changed()
            {
                let coarse = layer_range::presets(n)[0].1.clone();
                actions.push(Action::SetSeedMix(on.then_some(SeedMix {
                    seed: params.seed + 1,
                    from: coarse.start,
                    to: coarse.end,
                })));
            }
            if let Some(m) = params.mix {
                let mut seed = m.seed;
                if ui.add(egui::DragValue::new(&mut seed).speed(1.0)).changed() {
                    actions.push(Action::SetSeedMix(Some(SeedMix { seed, ..m })));
                }
            }
        });
        if let Some(m) = params.mix
            && let Some(r) = layer_range::ui(ui, n, &(m.from..m.to), ("A", "B"))
        {
            actions.push(Action::SetSeedMix(Some(SeedMix {
                from: r.start,
                to: r.end,
                ..m
            })));
        }
        match &state.frame {
            Some((_, frame)) => {
                let tex = textures.get(ui.ctx(), "random", frame.id, frame);
                let side = ui.available_size().min_elem().max(64.0);
                ui.centered_and_justified(|ui| ui.add(square(&tex, side)));
            }
            None => {
                ui.centered_and_justified(|ui| ui.spinner());
            }
        }
        actions
    }
}
