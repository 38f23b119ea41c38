//! How the editor looks: a control panel on the left, the face in the middle, a status bar.

use std::path::PathBuf;

use egui::{Color32, RichText, TextureHandle, TextureOptions};

use super::state::{EditorState, EngineStatus};
use crate::engine::{Engine, Request};

pub struct EditorApp {
    engine: Engine,
    pub state: EditorState,
    texture: Option<(u64, TextureHandle)>,
}

impl EditorApp {
    pub fn new(engine: Engine, photo: Option<PathBuf>) -> Self {
        Self {
            engine,
            state: EditorState::new(photo),
            texture: None,
        }
    }

    fn pump_events(&mut self) {
        while let Ok(ev) = self.engine.events.try_recv() {
            self.state.apply(ev);
        }
        if let Some((params, id)) = self.state.render_request() {
            let _ = self.engine.requests.send(Request::Render { params, id });
        }
    }

    fn texture(&mut self, ctx: &egui::Context) -> Option<&TextureHandle> {
        let frame = self.state.frame.as_ref()?;
        if self.texture.as_ref().map(|(id, _)| *id) != Some(frame.id) {
            let img = egui::ColorImage::from_rgba_unmultiplied([frame.width, frame.height], &frame.rgba);
            let tex = ctx.load_texture("face", img, TextureOptions::LINEAR);
            self.texture = Some((frame.id, tex));
        }
        self.texture.as_ref().map(|(_, t)| t)
    }

    fn export(&mut self) {
        let Some(frame) = &self.state.frame else { return };
        let name = format!("face_seed{}.png", frame.params.seed);
        let Some(path) = rfd::FileDialog::new().set_file_name(name).add_filter("PNG", &["png"]).save_file() else {
            return;
        };
        let result = image::RgbaImage::from_raw(frame.width as u32, frame.height as u32, frame.rgba.clone())
            .ok_or_else(|| "frame buffer has the wrong size".to_string())
            .and_then(|img| img.save(&path).map_err(|e| e.to_string()));
        if let Err(e) = result {
            self.state.error = Some(format!("{}: {e}", path.display()));
        }
    }

    fn open_weights(&mut self) {
        if let Some(path) = rfd::FileDialog::new()
            .add_filter("Generator", &["safetensors", "pt", "pth"])
            .pick_file()
        {
            let _ = self.engine.requests.send(Request::LoadGenerator(path));
        }
    }

    fn controls(&mut self, ui: &mut egui::Ui) {
        ui.heading("facestyle");
        ui.add_space(8.0);
        let enabled = self.state.status != EngineStatus::Starting;
        ui.add_enabled_ui(enabled, |ui| {
            ui.label("Seed");
            ui.horizontal(|ui| {
                ui.add(egui::DragValue::new(&mut self.state.params.seed).speed(1.0));
                if ui.button("Random seed").clicked() {
                    self.state.params.seed = rand::random::<u32>() as u64;
                }
            });
            ui.add_space(6.0);
            ui.label("Truncation ψ");
            ui.add(egui::Slider::new(&mut self.state.params.truncation, 0.0..=1.0));
            ui.add_space(12.0);
            if ui.button("Export PNG…").clicked() {
                self.export();
            }
            if ui.button("Open generator…").clicked() {
                self.open_weights();
            }
        });
        if let Some(photo) = &self.state.photo {
            ui.separator();
            ui.label(RichText::new("Photo").strong());
            ui.label(photo.display().to_string());
            ui.label("Inverting photos needs the Feature-Style encoder, which this build does not include yet.");
        }
        if let Some(c) = &self.state.config {
            ui.separator();
            ui.small(format!("{} px · style dim {} · {} w+ entries", c.size, c.style_dim, c.n_latent()));
        }
    }

    fn status_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            match self.state.status {
                EngineStatus::Starting => {
                    ui.spinner();
                    ui.label("starting engine…");
                }
                EngineStatus::Rendering => {
                    ui.spinner();
                    ui.label("rendering…");
                }
                EngineStatus::Ready => {
                    ui.label("ready");
                }
            }
            if let Some(f) = &self.state.frame {
                ui.label(format!("· {:.0} ms", f.millis));
            }
            ui.label(format!("· {}", self.state.device));
            if let Some(o) = &self.state.origin {
                let text = RichText::new(format!("· {o}"));
                ui.label(if self.state.is_interim_model() { text.color(Color32::from_rgb(230, 160, 40)) } else { text });
            }
        });
    }
}

impl eframe::App for EditorApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        self.pump_events();
        let dropped: Vec<PathBuf> = ctx.input(|i| i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).collect());
        if let Some(p) = dropped.into_iter().next() {
            self.state.photo = Some(p);
        }
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        egui::Panel::left("controls").resizable(false).exact_size(240.0).show(ui, |ui| self.controls(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            if let Some(err) = self.state.error.clone() {
                ui.horizontal(|ui| {
                    ui.colored_label(Color32::from_rgb(220, 80, 80), format!("⚠ {err}"));
                    if ui.small_button("dismiss").clicked() {
                        self.state.error = None;
                    }
                });
            }
            if self.state.is_interim_model() {
                ui.colored_label(
                    Color32::from_rgb(230, 160, 40),
                    "Interim model: seeded random weights (the trained bundled model is not in weights/ yet).",
                );
            }
            if let Some(tex) = self.texture(&ctx) {
                let side = ui.available_size().min_elem().max(64.0);
                ui.centered_and_justified(|ui| {
                    ui.add(egui::Image::new(tex).fit_to_exact_size(egui::vec2(side, side)));
                });
            } else {
                ui.centered_and_justified(|ui| ui.spinner());
            }
        });
    }
}
