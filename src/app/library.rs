//! The library strip: a thumbnail per open photo; click to select, × to close.

use egui::{Color32, RichText};

use super::state::{Action, EditorState};
use super::textures::{Textures, square};

pub struct Library;

impl Library {
    pub const THUMBNAIL: f32 = 72.0;

    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        state: &EditorState,
        textures: &mut Textures,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        egui::ScrollArea::horizontal().show(ui, |ui| {
            ui.horizontal(|ui| {
                for p in &state.photos {
                    let id = p.id();
                    let tex = textures.get(
                        ui.ctx(),
                        &format!("photo{}-input", id.0),
                        p.serial,
                        &p.view.input,
                    );
                    let selected = state.selected == Some(id);
                    ui.vertical(|ui| {
                        let frame = egui::Frame::new()
                            .stroke(if selected {
                                egui::Stroke::new(2.0, ui.visuals().selection.bg_fill)
                            } else {
                                egui::Stroke::NONE
                            })
                            .inner_margin(2.0);
                        frame.show(ui, |ui| {
                            let r =
                                ui.add(square(&tex, Self::THUMBNAIL).sense(egui::Sense::click()));
                            if r.clicked() {
                                actions.push(Action::Select(id));
                            }
                            r.on_hover_text(p.view.path.display().to_string());
                        });
                        ui.horizontal(|ui| {
                            let mut name = p.name();
                            if name.chars().count() > 10 {
                                name = name.chars().take(9).collect::<String>() + "…";
                            }
                            ui.small(name);
                            if p.personalized.is_some() {
                                ui.label(
                                    RichText::new("P")
                                        .small()
                                        .color(Color32::from_rgb(90, 170, 250)),
                                )
                                .on_hover_text("personalized: has its own tuned generator");
                            }
                            if ui
                                .small_button("×")
                                .on_hover_text("Close (Ctrl+W)")
                                .clicked()
                            {
                                actions.push(Action::ClosePhoto(id));
                            }
                        });
                    });
                }
                if state.opening > 0 {
                    ui.spinner();
                    ui.small(format!("opening {}…", state.opening));
                }
                if state.photos.is_empty() && state.opening == 0 {
                    ui.label("Drop face photos on the window, or File > Open photos… (Ctrl+O)");
                }
            });
        });
        actions
    }
}
