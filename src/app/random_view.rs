//! The Random view: a face drawn from a seed at truncation ψ.

use super::dialogs;
use super::state::{Action, EditorState};
use super::textures::{Textures, square};

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
        ui.horizontal(|ui| {
            let mut seed = state.params.seed;
            ui.label("Seed");
            if ui.add(egui::DragValue::new(&mut seed).speed(1.0)).changed() {
                actions.push(Action::SetSeed(seed));
            }
            if ui.button("Random seed").clicked() {
                actions.push(Action::SetSeed(rand::random::<u32>() as u64));
            }
            let mut psi = state.params.truncation;
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
            if let Some((params, frame)) = &state.frame
                && ui.button("Export…").clicked()
                && let Some(path) = dialogs::save_png(&format!("face_seed{}.png", params.seed))
            {
                actions.push(Action::SaveFrame {
                    frame: frame.clone(),
                    path,
                });
            }
        });
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
