//! The Edit view: the selected photo as original | reconstruction | edited, its sliders and
//! its personalization.

use egui::RichText;

use super::dialogs;
use super::state::{Action, EditorState, PhotoEntry};
use super::textures::{Textures, square};
use crate::engine::ExportKind;
use crate::face::Attribute;
use crate::workspace::{DirectionMethod, FaceSource, InterFaceGanSettings};

#[derive(Default)]
pub struct EditView {
    /// Show the unedited reconstruction in the edited pane (the before/after toggle).
    pub show_before: bool,
}

impl EditView {
    /// The left panel: the photo's facts, personalization and sliders.
    pub fn controls(&mut self, ui: &mut egui::Ui, state: &EditorState) -> Vec<Action> {
        let mut actions = Vec::new();
        let Some(p) = state.selected_photo() else {
            ui.small("Open a photo to edit it.");
            return actions;
        };
        ui.label(RichText::new(p.name()).strong());
        let q = p.view.quality;
        ui.small(format!(
            "PSNR {:.2} dB · SSIM {:.3} · MSE {:.4}",
            q.psnr, q.ssim, q.mse
        ));
        if p.view.faces > 1 {
            ui.horizontal(|ui| {
                ui.small(format!("face {} of {}", p.view.face + 1, p.view.faces));
                if ui.button("Next face").clicked() {
                    actions.push(Action::NextFace(p.id()));
                }
                if ui
                    .button("Open every face")
                    .on_hover_text("Each face of this group photo as an entry of its own")
                    .clicked()
                {
                    actions.push(Action::OpenOtherFaces(p.id()));
                }
            });
        } else if !p.view.aligned {
            ui.small("No face found: the centre square was used.");
        }
        ui.add_space(4.0);
        self.personalize(ui, state, p, &mut actions);
        ui.separator();
        ui.label(RichText::new("Sliders").strong());
        ui.small(&state.directions_label);
        egui::ScrollArea::vertical().show(ui, |ui| {
            for (i, info) in state.directions.iter().enumerate() {
                let mut value = p.sliders.get(i).copied().unwrap_or(0.0);
                let label = ui
                    .add(egui::Label::new(&info.name).sense(egui::Sense::click()))
                    .on_hover_text(format!(
                        "{} (double-click to reset; right-click the name: export a sweep clip)",
                        info.source
                    ));
                let r = ui.add(egui::Slider::new(&mut value, info.range.0..=info.range.1));
                let sweep_menu = |ui: &mut egui::Ui, actions: &mut Vec<Action>| {
                    if ui.button("Export sweep…").clicked() {
                        let safe = crate::workspace::photo::file_safe(&info.name);
                        if let Some(path) = dialogs::save_clip(&format!("{}_{safe}.gif", p.stem()))
                        {
                            actions.push(Action::Export {
                                kind: ExportKind::Sweep { slider: i },
                                path,
                            });
                        }
                        ui.close();
                    }
                };
                label.context_menu(|ui| sweep_menu(ui, &mut actions));
                if label.double_clicked() || r.double_clicked() {
                    actions.push(Action::ResetSlider(i));
                } else if r.changed() {
                    actions.push(Action::SetSlider { index: i, value });
                }
            }
            ui.horizontal(|ui| {
                if ui.button("Reset all").clicked() {
                    actions.push(Action::ResetAll);
                }
                if ui.button("Open set…").clicked()
                    && let Some(path) = dialogs::pick_directions()
                {
                    actions.push(Action::LoadDirections(path));
                }
                if ui.button("Save set…").clicked()
                    && let Some(path) = dialogs::save_directions()
                {
                    actions.push(Action::SaveDirections(path));
                }
            });
            match &state.task {
                Some(_) => {}
                None => {
                    ui.horizontal(|ui| {
                        ui.small("Compute:");
                        if ui
                            .button("SeFa")
                            .on_hover_text("10 closed-form directions of this generator's weights")
                            .clicked()
                        {
                            actions.push(Action::ComputeDirections(DirectionMethod::Sefa {
                                layers: None,
                                count: 10,
                            }));
                        }
                        if ui
                            .button("GANSpace")
                            .on_hover_text("10 principal components of 10,000 mapped latents")
                            .clicked()
                        {
                            actions.push(Action::ComputeDirections(DirectionMethod::Ganspace {
                                samples: 10_000,
                                count: 10,
                                layers: None,
                                seed: 0,
                            }));
                        }
                        train_attribute_menu(ui, &mut actions);
                    });
                }
            }
        });
        actions
    }

    fn personalize(
        &mut self,
        ui: &mut egui::Ui,
        state: &EditorState,
        p: &PhotoEntry,
        actions: &mut Vec<Action>,
    ) {
        if let Some(job) = &state.tuning {
            let (fraction, text) = match &job.progress {
                Some(t) => (
                    t.step as f32 / t.steps as f32,
                    format!(
                        "step {}/{} · loss {:.4} · ETA {:.0}s",
                        t.step, t.steps, t.loss, t.eta_seconds
                    ),
                ),
                None => (0.0, "starting…".to_string()),
            };
            ui.small(format!("Personalizing {} photo(s)", job.photos.len()));
            ui.add(egui::ProgressBar::new(fraction).text(text));
            if ui.button("Cancel").clicked() {
                actions.push(Action::CancelPersonalize);
            }
            return;
        }
        match &p.personalized {
            None => {
                ui.horizontal(|ui| {
                    if ui
                        .button("Personalize (PTI)")
                        .on_hover_text("Tune the generator to this photo (pivotal tuning)")
                        .clicked()
                    {
                        actions.push(Action::Personalize(vec![p.id()]));
                    }
                    if state.photos.len() > 1
                        && ui
                            .button("All together")
                            .on_hover_text("Tune one generator to every open photo (multi-identity PTI with locality regularization)")
                            .clicked()
                    {
                        actions.push(Action::Personalize(state.photos.iter().map(PhotoEntry::id).collect()));
                    }
                });
            }
            Some(info) => {
                ui.small(format!(
                    "Personalized: {} steps in {:.0}s (perceptual distance: {})",
                    info.steps, info.seconds, info.perceptual
                ));
                if ui.button("Revert to the base generator").clicked() {
                    actions.push(Action::Revert(p.id()));
                }
            }
        }
    }

    /// The central area: three panes side by side.
    pub fn panes(
        &mut self,
        ui: &mut egui::Ui,
        state: &EditorState,
        textures: &mut Textures,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        let Some(p) = state.selected_photo() else {
            ui.centered_and_justified(|ui| {
                if state.opening > 0 {
                    ui.spinner();
                } else {
                    ui.label("Drop face photos on the window to invert them.");
                }
            });
            return actions;
        };
        let ctx = ui.ctx().clone();
        let key = format!("photo{}", p.id().0);
        let input = textures.get(&ctx, &format!("{key}-input"), p.serial, &p.view.input);
        let recon = textures.get(
            &ctx,
            &format!("{key}-recon"),
            p.serial,
            &p.view.reconstruction,
        );
        let held = ctx.input(|i| i.key_down(egui::Key::Space)) && !ctx.egui_wants_keyboard_input();
        let before = self.show_before || held;
        let edited = match (&p.edited, before) {
            (Some(f), false) => Some(textures.get(&ctx, &format!("{key}-edited"), f.id, f)),
            _ => None,
        };
        ui.horizontal(|ui| {
            ui.toggle_value(&mut self.show_before, "Before / after")
                .on_hover_text("Show the unedited face (or hold Space)");
            if ui
                .button("Export edited face…")
                .on_hover_text("Ctrl+E")
                .clicked()
                && let Some(path) = dialogs::save_png(&format!("{}_edited.png", p.stem()))
            {
                actions.push(Action::Export {
                    kind: ExportKind::EditedFace,
                    path,
                });
            }
            if p.view.aligned
                && ui
                    .button("Export whole photo…")
                    .on_hover_text("The whole photo with the edited face pasted back")
                    .clicked()
                && let Some(path) = dialogs::save_png(&format!("{}_edited_full.png", p.stem()))
            {
                actions.push(Action::Export {
                    kind: ExportKind::FullPhoto,
                    path,
                });
            }
        });
        let side = ((ui.available_width() - 24.0) / 3.0)
            .min(ui.available_height() - 40.0)
            .max(64.0);
        let at_zero = p.sliders.iter().all(|v| *v == 0.0);
        let third = match (&edited, before) {
            (Some(tex), _) if !at_zero => ("Edited (Eq. 1)", tex.clone()),
            (Some(tex), _) => ("Edited (sliders at 0)", tex.clone()),
            (None, true) => ("Before (reconstruction)", recon.clone()),
            (None, false) => ("Edited (sliders at 0)", recon.clone()),
        };
        ui.horizontal(|ui| {
            for (title, tex) in [
                ("Photo (at the model's side)", input),
                ("Reconstruction G(w+, F)", recon.clone()),
                third,
            ] {
                ui.vertical(|ui| {
                    ui.label(title);
                    ui.add(square(&tex, side));
                });
            }
        });
        actions
    }
}

/// "Train…": InterFaceGAN sliders for named attributes of the loaded generator (2,000
/// generated faces scored by the attribute networks), added to the sliders in use.
fn train_attribute_menu(ui: &mut egui::Ui, actions: &mut Vec<Action>) {
    const MAIN: [Attribute; 3] = [Attribute::Smile, Attribute::Age, Attribute::Gender];
    let train = |attributes: Vec<Attribute>| {
        Action::ComputeDirections(DirectionMethod::InterFaceGan(InterFaceGanSettings {
            attributes,
            orthogonal_to: MAIN.to_vec(),
            faces: FaceSource::Samples {
                count: 2_000,
                truncation: 0.7,
            },
            ratio: 0.25,
            layers: None,
            seed: 0,
            keep_current: true,
        }))
    };
    ui.menu_button("Train…", |ui| {
        ui.label("A slider for an attribute (InterFaceGAN on 2,000 faces of this generator):");
        if ui.button("Smile, age and gender").clicked() {
            actions.push(train(MAIN.to_vec()));
            ui.close();
        }
        ui.separator();
        for a in Attribute::ALL {
            if ui.button(a.name()).clicked() {
                actions.push(train(vec![a]));
                ui.close();
            }
        }
    })
    .response
    .on_hover_text("Train named sliders: generated faces are scored by face-api's age, gender and expression networks and a linear boundary is fit; added to the sliders in use (Ctrl+Z undoes)");
}
