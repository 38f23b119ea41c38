//! The Mix view (FSE Fig. 7): photos A and B, the 2×2 grid of their latent codes w and
//! feature codes F, and a layer-range mixer (B's w+ entries in A).

use super::state::{Action, EditorState, MixSlot};
use super::textures::{Textures, square};
use super::{dialogs, layer_range};
use crate::workspace::MixPane;

#[derive(Default)]
pub struct MixView;

impl MixView {
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        state: &EditorState,
        textures: &mut Textures,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        if state.photos.len() < 2 {
            ui.label("Open two photos to mix their faces.");
            return actions;
        }
        let n = state.config.as_ref().map_or(1, |c| c.n_latent());
        ui.horizontal(|ui| {
            for (slot, label, chosen) in [
                (MixSlot::A, "A", state.mix.a),
                (MixSlot::B, "B", state.mix.b),
            ] {
                let text = chosen
                    .and_then(|id| state.photo(id))
                    .map(|p| p.name())
                    .unwrap_or_else(|| "choose…".into());
                egui::ComboBox::from_label(format!("photo {label}"))
                    .selected_text(text)
                    .show_ui(ui, |ui| {
                        for p in &state.photos {
                            if ui
                                .selectable_label(chosen == Some(p.id()), p.name())
                                .clicked()
                            {
                                actions.push(Action::MixPick {
                                    slot,
                                    photo: p.id(),
                                });
                            }
                        }
                    });
            }
        });
        if let Some(range) = layer_range::ui(ui, n, &state.mix.layers, ("A", "B")) {
            actions.push(Action::SetMixLayers(range));
        }
        let Some(m) = &state.mix.frames else {
            ui.spinner();
            return actions;
        };
        let ctx = ui.ctx().clone();
        let side = ((ui.available_width() - 40.0) / 3.0)
            .min((ui.available_height() - 70.0) / 2.0)
            .max(48.0);
        let titles = ["G(w_A, F_A)", "G(w_B, F_A)", "G(w_A, F_B)", "G(w_B, F_B)"];
        let panes: Vec<_> = (0..4)
            .map(|i| textures.get(&ctx, &format!("mix{i}"), m.panes[i].id, &m.panes[i]))
            .collect();
        let pane = |ui: &mut egui::Ui, i: usize, actions: &mut Vec<Action>| {
            let f = &m.panes[i];
            let tex = &panes[i];
            ui.vertical(|ui| {
                ui.label(titles[i]);
                let r = ui.add(square(tex, side).sense(egui::Sense::click()));
                r.context_menu(|ui| {
                    let pane = match i {
                        1 => Some(MixPane::LatentBFeatureA),
                        2 => Some(MixPane::LatentAFeatureB),
                        _ => None,
                    };
                    if let Some(pane) = pane
                        && ui.button("Edit this face").clicked()
                    {
                        actions.push(Action::EditMixPane(pane));
                    }
                    if ui.button("Export this pane…").clicked()
                        && let Some(path) = dialogs::save_png(&format!(
                            "mix_{}.png",
                            titles[i].replace([' ', ',', '(', ')'], "")
                        ))
                    {
                        actions.push(Action::SaveFrame {
                            frame: f.clone(),
                            path,
                        });
                    }
                });
            });
        };
        ui.horizontal(|ui| {
            ui.vertical(|ui| {
                ui.horizontal(|ui| {
                    pane(ui, 0, &mut actions);
                    pane(ui, 1, &mut actions);
                });
                ui.horizontal(|ui| {
                    pane(ui, 2, &mut actions);
                    pane(ui, 3, &mut actions);
                });
            });
            ui.vertical(|ui| {
                ui.label(format!(
                    "A with B's entries {}..{}",
                    m.layers.start, m.layers.end
                ));
                let tex = textures.get(&ctx, "mix-style", m.style_mix.id, &m.style_mix);
                ui.add(square(&tex, side));
                if ui.button("Export…").clicked()
                    && let Some(path) = dialogs::save_png(&format!(
                        "style_mix_{}_{}.png",
                        m.layers.start, m.layers.end
                    ))
                {
                    actions.push(Action::SaveFrame {
                        frame: m.style_mix.clone(),
                        path,
                    });
                }
            });
        });
        ui.small("Right-click a pane to edit or export it.");
        actions
    }
}
