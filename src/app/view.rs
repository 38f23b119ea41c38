//! How the editor looks: a control panel on the left, the face in the middle, a status bar.

use std::path::PathBuf;

use egui::{Color32, RichText, TextureHandle, TextureOptions};

use super::state::{EditorState, EngineStatus, Pane, Personalization};
use crate::engine::{Engine, Frame, Request};
use crate::pti::CancelToken;

pub struct EditorApp {
    engine: Engine,
    /// Starts a new engine when the running one has stopped.
    restart: Option<Box<dyn Fn() -> Engine>>,
    pub state: EditorState,
    texture: Option<(u64, TextureHandle)>,
    /// Textures of the photo pane: (inversion serial they show, input, reconstruction).
    photo_textures: Option<(u64, TextureHandle, TextureHandle)>,
    edited_texture: Option<(u64, TextureHandle)>,
}

fn texture_of(ctx: &egui::Context, name: &str, frame: &Frame) -> TextureHandle {
    let img = egui::ColorImage::from_rgba_unmultiplied([frame.width, frame.height], &frame.rgba);
    ctx.load_texture(name, img, TextureOptions::LINEAR)
}

impl EditorApp {
    pub fn new(engine: Engine, photo: Option<PathBuf>) -> Self {
        Self {
            engine,
            restart: None,
            state: EditorState::new(photo),
            texture: None,
            photo_textures: None,
            edited_texture: None,
        }
    }

    /// How to start a new engine if this one stops (offered as "Restart engine").
    pub fn with_restart(mut self, restart: impl Fn() -> Engine + 'static) -> Self {
        self.restart = Some(Box::new(restart));
        self
    }

    fn pump_events(&mut self) {
        loop {
            match self.engine.events.try_recv() {
                Ok(ev) => self.state.apply(ev),
                Err(crossbeam_channel::TryRecvError::Empty) => break,
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    self.state.engine_stopped();
                    return;
                }
            }
        }
        if let Some((params, id)) = self.state.render_request() {
            let _ = self.engine.requests.send(Request::Render { params, id });
        }
        if let Some((sliders, id)) = self.state.edit_request() {
            let _ = self.engine.requests.send(Request::Edit { sliders, id });
        }
        for photo in self.state.take_photos() {
            let _ = self
                .engine
                .requests
                .send(Request::Invert { photo, face: 0 });
        }
    }

    fn texture(&mut self, ctx: &egui::Context) -> Option<&TextureHandle> {
        let (_, frame) = self.state.frame.as_ref()?;
        if self.texture.as_ref().map(|(id, _)| *id) != Some(frame.id) {
            self.texture = Some((frame.id, texture_of(ctx, "face", frame)));
        }
        self.texture.as_ref().map(|(_, t)| t)
    }

    fn photo_textures(&mut self, ctx: &egui::Context) -> Option<(&TextureHandle, &TextureHandle)> {
        let inv = self.state.inversion.as_ref()?;
        let serial = self.state.inversion_serial;
        if self.photo_textures.as_ref().map(|(s, _, _)| *s) != Some(serial) {
            self.photo_textures = Some((
                serial,
                texture_of(ctx, "photo", &inv.input),
                texture_of(ctx, "reconstruction", &inv.reconstruction),
            ));
        }
        self.photo_textures.as_ref().map(|(_, a, b)| (a, b))
    }

    fn edited_texture(&mut self, ctx: &egui::Context) -> Option<&TextureHandle> {
        let frame = self.state.edited.as_ref()?;
        if self.edited_texture.as_ref().map(|(id, _)| *id) != Some(frame.id) {
            self.edited_texture = Some((frame.id, texture_of(ctx, "edited", frame)));
        }
        self.edited_texture.as_ref().map(|(_, t)| t)
    }

    fn open_directions(&mut self) {
        if let Some(path) = rfd::FileDialog::new()
            .add_filter("Direction set", &["safetensors"])
            .pick_file()
        {
            let _ = self.engine.requests.send(Request::LoadDirections(path));
        }
    }

    /// Steps of a personalization started from the editor (PTI's default).
    const PERSONALIZE_STEPS: usize = 350;

    fn personalize(&mut self, ui: &mut egui::Ui) {
        match self.state.personalization.clone() {
            Personalization::Original => {
                if ui
                    .button("Personalize (PTI)")
                    .on_hover_text("Tune the generator to this photo (pivotal tuning)")
                    .clicked()
                {
                    let cancel = CancelToken::default();
                    let _ = self.engine.requests.send(Request::Personalize {
                        steps: Self::PERSONALIZE_STEPS,
                        cancel: cancel.clone(),
                    });
                    self.state.personalization = Personalization::Running {
                        progress: None,
                        cancel,
                    };
                }
            }
            Personalization::Running { progress, cancel } => {
                let (fraction, text) = match &progress {
                    Some(p) => (
                        p.step as f32 / p.steps as f32,
                        format!(
                            "step {}/{} · loss {:.4} · ETA {:.0}s",
                            p.step, p.steps, p.loss, p.eta_seconds
                        ),
                    ),
                    None => (0.0, "starting…".to_string()),
                };
                ui.add(egui::ProgressBar::new(fraction).text(text));
                if ui.button("Cancel").clicked() {
                    cancel.cancel();
                }
            }
            Personalization::Personalized {
                steps,
                seconds,
                perceptual,
            } => {
                ui.small(format!(
                    "Personalized: {steps} steps in {seconds:.0}s (perceptual: {perceptual})"
                ));
                if ui.button("Revert to the original generator").clicked() {
                    let _ = self.engine.requests.send(Request::Revert);
                }
            }
        }
    }

    fn sliders(&mut self, ui: &mut egui::Ui) {
        ui.label(RichText::new("Edit").strong());
        ui.small(&self.state.directions_label);
        for (info, value) in &mut self.state.sliders {
            ui.label(&info.name).on_hover_text(&info.source);
            ui.add(egui::Slider::new(value, info.range.0..=info.range.1));
        }
        ui.horizontal(|ui| {
            if ui.button("Reset").clicked() {
                self.state.sliders.iter_mut().for_each(|(_, v)| *v = 0.0);
            }
            if ui.button("Directions…").clicked() {
                self.open_directions();
            }
        });
    }

    fn open_photo(&mut self) {
        if let Some(path) = rfd::FileDialog::new()
            .add_filter(
                "Images",
                &["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff"],
            )
            .pick_file()
        {
            self.state.pending_photos.push(path);
        }
    }

    /// Saves what the current pane shows (the face, or the photo as edited).
    fn export(&mut self) {
        let (name, frame) = match (self.state.pane, &self.state.frame, &self.state.inversion) {
            (Pane::RandomFace, Some((params, frame)), _) => {
                (format!("face_seed{}.png", params.seed), frame)
            }
            (Pane::Photo, _, Some(inv)) => (
                format!(
                    "{}_edited.png",
                    inv.photo
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default()
                ),
                self.state.edited.as_ref().unwrap_or(&inv.reconstruction),
            ),
            _ => return,
        };
        let Some(path) = rfd::FileDialog::new()
            .set_file_name(name)
            .add_filter("PNG", &["png"])
            .save_file()
        else {
            return;
        };
        let result = frame
            .to_rgba_image()
            .ok_or_else(|| "frame buffer has the wrong size".to_string())
            .and_then(|img| crate::safe_write::save_image(&img, &path).map_err(|e| e.to_string()));
        if let Err(e) = result {
            self.state.error = Some(format!("{}: {e}", path.display()));
        }
    }

    /// Saves the whole photo with the (edited) face pasted back, on the engine thread.
    fn export_full(&mut self) {
        let Some(inv) = &self.state.inversion else {
            return;
        };
        let stem = inv
            .photo
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(path) = rfd::FileDialog::new()
            .set_file_name(format!("{stem}_edited_full.png"))
            .add_filter("PNG", &["png"])
            .save_file()
        {
            let _ = self.engine.requests.send(Request::ExportFull(path));
        }
    }

    fn open_weights(&mut self) {
        if let Some(path) = rfd::FileDialog::new()
            .add_filter("Generator", &["safetensors", "pt", "pth", "pkl"])
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
            ui.add(egui::Slider::new(
                &mut self.state.params.truncation,
                0.0..=1.0,
            ));
            ui.add_space(12.0);
            if ui.button("Open photo…").clicked() {
                self.open_photo();
            }
            if ui.button("Export PNG…").clicked() {
                self.export();
            }
            if ui.button("Open generator…").clicked() {
                self.open_weights();
            }
            if ui.button("Open encoder…").clicked()
                && let Some(path) = rfd::FileDialog::new()
                    .add_filter("Feature-Style encoder", &["safetensors", "pth", "pt"])
                    .pick_file()
            {
                let _ = self.engine.requests.send(Request::LoadEncoder(path));
            }
        });
        if self.state.inverting {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("inverting photo…");
            });
        }
        if let Some(inv) = &self.state.inversion {
            ui.separator();
            ui.label(RichText::new("Photo").strong());
            ui.label(
                inv.photo
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
            let q = inv.quality;
            ui.small(format!(
                "PSNR {:.2} dB · SSIM {:.3} · MSE {:.4}",
                q.psnr, q.ssim, q.mse
            ));
            if inv.faces > 1 {
                ui.horizontal(|ui| {
                    ui.small(format!("face {} of {}", inv.face + 1, inv.faces));
                    if ui.button("Next face").clicked() {
                        let request = Request::Invert {
                            photo: inv.photo.clone(),
                            face: (inv.face + 1) % inv.faces,
                        };
                        let _ = self.engine.requests.send(request);
                        self.state.inverting = true;
                    }
                });
            }
            if inv.aligned {
                if ui
                    .button("Export full photo…")
                    .on_hover_text("The whole photo with the edited face pasted back")
                    .clicked()
                {
                    self.export_full();
                }
            } else {
                ui.small("No face found: the centre square was used.");
            }
            self.personalize(ui);
            ui.separator();
            egui::ScrollArea::vertical().show(ui, |ui| self.sliders(ui));
        } else {
            ui.separator();
            ui.small("Drop a face photo on the window to invert it.");
        }
        if let Some(c) = &self.state.config {
            ui.separator();
            ui.small(format!(
                "{} px · style dim {} · {} w+ entries",
                c.size,
                c.style_dim,
                c.n_latent()
            ));
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
                EngineStatus::NoModel => {
                    ui.label("no generator: use \"Open generator…\"");
                }
                EngineStatus::Stopped => {
                    ui.colored_label(Color32::from_rgb(220, 80, 80), "engine stopped");
                    if let Some(restart) = &self.restart
                        && ui.button("Restart engine").clicked()
                    {
                        self.engine = restart();
                        self.state.engine_restarted();
                    }
                }
            }
            if let Some((_, f)) = &self.state.frame {
                ui.label(format!("· {:.0} ms", f.millis));
            }
            ui.label(format!("· {}", self.state.device));
            if let Some(n) = &self.state.notice {
                ui.label(format!("· {n}"));
            }
            if let Some(o) = &self.state.origin {
                let text = RichText::new(format!("· {o}"));
                ui.label(if self.state.interim_notice().is_some() {
                    text.color(Color32::from_rgb(230, 160, 40))
                } else {
                    text
                });
            }
        });
    }
}

impl eframe::App for EditorApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        self.pump_events();
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        self.state.pending_photos.extend(dropped);
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        egui::Panel::left("controls")
            .resizable(false)
            .exact_size(240.0)
            .show(ui, |ui| self.controls(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            if let Some(err) = self.state.error.clone() {
                ui.horizontal(|ui| {
                    ui.colored_label(Color32::from_rgb(220, 80, 80), format!("⚠ {err}"));
                    if ui.small_button("dismiss").clicked() {
                        self.state.error = None;
                    }
                });
            }
            if let Some(notice) = self.state.interim_notice() {
                ui.colored_label(Color32::from_rgb(230, 160, 40), notice);
            }
            ui.horizontal(|ui| {
                ui.selectable_value(&mut self.state.pane, Pane::RandomFace, "Random face");
                ui.add_enabled_ui(self.state.inversion.is_some(), |ui| {
                    ui.selectable_value(&mut self.state.pane, Pane::Photo, "Photo");
                });
            });
            match self.state.pane {
                Pane::RandomFace => {
                    if let Some(tex) = self.texture(&ctx) {
                        let side = ui.available_size().min_elem().max(64.0);
                        ui.centered_and_justified(|ui| {
                            ui.add(egui::Image::new(tex).fit_to_exact_size(egui::vec2(side, side)));
                        });
                    } else {
                        ui.centered_and_justified(|ui| ui.spinner());
                    }
                }
                Pane::Photo => {
                    let edited = self.edited_texture(&ctx).cloned();
                    if let Some((input, recon)) = self.photo_textures(&ctx) {
                        let side = (ui.available_width() / 2.0 - 12.0)
                            .min(ui.available_height() - 24.0)
                            .max(64.0);
                        let right = match &edited {
                            Some(tex) => ("Edited (Eq. 1 feature correction)", tex),
                            None => ("Reconstruction G(w+, F)", recon),
                        };
                        ui.horizontal(|ui| {
                            for (title, tex) in [("Photo (at the model's side)", input), right] {
                                ui.vertical(|ui| {
                                    ui.label(title);
                                    ui.add(
                                        egui::Image::new(tex)
                                            .fit_to_exact_size(egui::vec2(side, side)),
                                    );
                                });
                            }
                        });
                    } else {
                        ui.centered_and_justified(|ui| ui.spinner());
                    }
                }
            }
        });
    }
}
