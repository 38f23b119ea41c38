//! The editor window: a menu bar, the library strip, the view's controls on the left, the
//! view in the middle, an error log and a status bar. Panels read the state and return
//! actions; everything changes through the reducer ([`EditorState::dispatch`]).

use std::path::PathBuf;

use egui::{Color32, RichText};

use super::dialogs::is_session;
use super::edit_view::EditView;
use super::library::Library;
use super::menu::MenuBar;
use super::mix_view::MixView;
use super::random_view::RandomView;
use super::state::{Action, EditorState, Effect, EngineStatus, View};
use super::textures::Textures;
use crate::engine::{Engine, Event};

pub struct EditorApp {
    engine: Engine,
    /// Starts a new engine when the running one has stopped.
    restart: Option<Box<dyn Fn() -> Engine>>,
    pub state: EditorState,
    textures: Textures,
    menu: MenuBar,
    library: Library,
    edit: EditView,
    mix: MixView,
    random: RandomView,
    /// Window commands the reducer asked for, sent at the next frame.
    viewport: Vec<egui::ViewportCommand>,
}

/// The storage key of the recent files.
const RECENT_KEY: &str = "facestyle-recent";

impl EditorApp {
    pub fn new(engine: Engine, photos: Vec<PathBuf>) -> Self {
        Self {
            engine,
            restart: None,
            state: EditorState::new(photos),
            textures: Textures::default(),
            menu: MenuBar,
            library: Library,
            edit: EditView::default(),
            mix: MixView,
            random: RandomView,
            viewport: Vec::new(),
        }
    }

    /// The recent files and last folder saved by an earlier run.
    pub fn with_storage(mut self, storage: Option<&dyn eframe::Storage>) -> Self {
        if let Some(recent) = storage.and_then(|s| eframe::get_value(s, RECENT_KEY)) {
            let opened = std::mem::take(&mut self.state.recent.photos);
            self.state.recent = recent;
            for p in opened.iter().rev() {
                self.state.recent.photos.retain(|q| q != p);
                self.state.recent.photos.insert(0, p.clone());
            }
        }
        self
    }

    /// How to start a new engine if this one stops (offered as "Restart engine").
    pub fn with_restart(mut self, restart: impl Fn() -> Engine + 'static) -> Self {
        self.restart = Some(Box::new(restart));
        self
    }

    /// Applies the engine's events, then sends what the state asks for.
    fn pump_events(&mut self) {
        loop {
            match self.engine.events.try_recv() {
                Ok(ev) => {
                    if let Event::PhotoClosed(id) = &ev {
                        self.textures.forget(&format!("photo{}-", id.0));
                    }
                    if let Event::VideoSaved(path) = &ev
                        && let Some(folder) = path.parent()
                    {
                        super::dialogs::reveal(folder);
                    }
                    self.state.apply(ev)
                }
                Err(crossbeam_channel::TryRecvError::Empty) => break,
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    self.state.engine_stopped();
                    return;
                }
            }
        }
        for r in self.state.requests() {
            let _ = self.engine.requests.send(r);
        }
    }

    /// Does what the user did, as a menu or button would (also how tests and scripts drive
    /// the editor without its file dialogs).
    pub fn act(&mut self, action: Action) {
        self.carry_out(vec![action]);
    }

    /// Runs actions through the reducer and carries out their effects.
    fn carry_out(&mut self, actions: Vec<Action>) {
        for action in actions {
            for effect in self.state.dispatch(action) {
                match effect {
                    Effect::Send(r) => {
                        // what the state asks for first (e.g. the edit of a slider just moved),
                        // so a save or an export sees it
                        for pending in self.state.requests() {
                            let _ = self.engine.requests.send(pending);
                        }
                        let _ = self.engine.requests.send(r);
                    }
                    Effect::CancelClose => self.viewport.push(egui::ViewportCommand::CancelClose),
                    Effect::Close => self.viewport.push(egui::ViewportCommand::Close),
                    Effect::SaveFrame(frame, path) => {
                        let result = frame
                            .to_rgba_image()
                            .ok_or_else(|| "the frame buffer has the wrong size".to_string())
                            .and_then(|img| {
                                let rgb = image::DynamicImage::ImageRgba8(img).into_rgb8();
                                crate::workspace::save_png(&rgb, &path)
                                    .map_err(|e| format!("{e:#}"))
                            });
                        self.state.apply(match result {
                            Ok(()) => Event::Notice(format!("saved {}", path.display())),
                            Err(e) => Event::Error(e),
                        });
                    }
                }
            }
        }
    }

    fn status_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            match self.state.status {
                EngineStatus::Starting => {
                    ui.spinner();
                    ui.label("starting engine…");
                }
                EngineStatus::Ready => {
                    ui.label("ready");
                }
                EngineStatus::NoModel => {
                    ui.label("no generator: File > Open generator…");
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
            let mut cancel = false;
            if let Some((task, fraction, _)) = &self.state.task {
                ui.add(
                    egui::ProgressBar::new(*fraction)
                        .desired_width(180.0)
                        .text(task.as_str()),
                );
                cancel = ui.small_button("Cancel").clicked();
            }
            if cancel {
                self.act(Action::CancelTask);
            }
            let ms = match self.state.view {
                View::Edit => self
                    .state
                    .selected_photo()
                    .and_then(|p| p.edited.as_ref())
                    .map(|f| f.millis),
                View::Mix => self.state.mix.frames.as_ref().map(|m| m.style_mix.millis),
                View::Random => self.state.frame.as_ref().map(|(_, f)| f.millis),
            };
            if let Some(ms) = ms {
                ui.label(format!("· {ms:.0} ms"));
            }
            ui.label(format!("· {}", self.state.device));
            if self.state.unsaved && !self.state.photos.is_empty() {
                ui.label("· unsaved changes");
            }
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

    /// The errors since the log was dismissed, newest last (none of them blocks anything).
    fn error_log(&mut self, ui: &mut egui::Ui) -> Vec<Action> {
        let mut actions = Vec::new();
        let errors = &self.state.errors;
        if errors.is_empty() {
            return actions;
        }
        let red = Color32::from_rgb(220, 80, 80);
        ui.horizontal(|ui| {
            ui.colored_label(red, format!("Error: {}", errors[errors.len() - 1]));
            if ui.small_button("dismiss").clicked() {
                actions.push(Action::DismissErrors);
            }
        });
        if errors.len() > 1 {
            egui::CollapsingHeader::new(format!("{} earlier messages", errors.len() - 1))
                .id_salt("error-log")
                .show(ui, |ui| {
                    for e in errors[..errors.len() - 1].iter().rev() {
                        ui.colored_label(red, e);
                    }
                });
        }
        actions
    }

    /// Asks what to do with unsaved changes before the window closes.
    fn quit_prompt(&mut self, ctx: &egui::Context) -> Vec<Action> {
        let mut actions = Vec::new();
        if !self.state.quit_prompt {
            return actions;
        }
        egui::Modal::new(egui::Id::unique("quit-prompt")).show(ctx, |ui| {
            ui.label(RichText::new("Save the session before quitting?").strong());
            ui.label(format!(
                "{} open photo(s) have changes that are not in a session file.",
                self.state.photos.len()
            ));
            ui.horizontal(|ui| {
                if ui.button("Save session…").clicked()
                    && let Some(path) = super::dialogs::save_session()
                {
                    actions.push(Action::SaveAndQuit(path));
                }
                if ui.button("Quit without saving").clicked() {
                    actions.push(Action::QuitWithoutSaving);
                }
                if ui.button("Cancel").clicked() {
                    actions.push(Action::CancelQuit);
                }
            });
        });
        actions
    }
}

impl eframe::App for EditorApp {
    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, RECENT_KEY, &self.state.recent);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        for command in self.viewport.drain(..) {
            ctx.send_viewport_cmd(command);
        }
        super::dialogs::start_in(self.state.recent.folder.clone());
        self.pump_events();
        let mut actions = Vec::new();
        if ctx.input(|i| i.viewport().close_requested()) {
            actions.push(Action::CloseRequested);
        }
        actions.extend(self.quit_prompt(&ctx));
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        let (sessions, photos): (Vec<PathBuf>, Vec<PathBuf>) =
            dropped.into_iter().partition(|p| is_session(p));
        actions.extend(sessions.into_iter().map(Action::OpenSession));
        if !photos.is_empty() {
            actions.push(Action::OpenPhotos(photos));
        }
        actions.extend(self.menu.shortcuts(&ctx, &self.state));
        egui::Panel::top("menu").show(ui, |ui| {
            let a = self.menu.ui(ui, &self.state);
            actions.extend(a);
        });
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        egui::Panel::top("library").show(ui, |ui| {
            let a = self.library.ui(ui, &self.state, &mut self.textures);
            actions.extend(a);
        });
        if self.state.view == View::Edit {
            egui::Panel::left("controls")
                .resizable(false)
                .exact_size(250.0)
                .show(ui, |ui| {
                    let a = self.edit.controls(ui, &self.state);
                    actions.extend(a);
                });
        }
        egui::CentralPanel::default().show(ui, |ui| {
            actions.extend(self.error_log(ui));
            if let Some(notice) = self.state.interim_notice() {
                ui.colored_label(Color32::from_rgb(230, 160, 40), notice);
            }
            ui.horizontal(|ui| {
                for (view, name) in [
                    (View::Edit, "Edit"),
                    (View::Mix, "Mix"),
                    (View::Random, "Random face"),
                ] {
                    if ui.selectable_label(self.state.view == view, name).clicked() {
                        actions.push(Action::SetView(view));
                    }
                }
            });
            ui.separator();
            let a = match self.state.view {
                View::Edit => self.edit.panes(ui, &self.state, &mut self.textures),
                View::Mix => self.mix.ui(ui, &self.state, &mut self.textures),
                View::Random => self.random.ui(ui, &self.state, &mut self.textures),
            };
            actions.extend(a);
        });
        if !ctx.input(|i| i.pointer.any_down()) {
            actions.push(Action::EndGesture);
        }
        self.carry_out(actions);
    }
}
