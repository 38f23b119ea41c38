//! The menu bar and the keyboard shortcuts it lists.

use egui::{Key, KeyboardShortcut, Modifiers};

use super::dialogs;
use super::state::{Action, EditorState, View};
use crate::engine::ExportKind;

const OPEN: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::O);
const SAVE_SESSION: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::S);
const EXPORT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::E);
const CLOSE: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::W);
const UNDO: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::Z);
const REDO: KeyboardShortcut =
    KeyboardShortcut::new(Modifiers::COMMAND.plus(Modifiers::SHIFT), Key::Z);
const VIEWS: [(KeyboardShortcut, View, &str); 3] = [
    (
        KeyboardShortcut::new(Modifiers::COMMAND, Key::Num1),
        View::Edit,
        "Edit",
    ),
    (
        KeyboardShortcut::new(Modifiers::COMMAND, Key::Num2),
        View::Mix,
        "Mix",
    ),
    (
        KeyboardShortcut::new(Modifiers::COMMAND, Key::Num3),
        View::Random,
        "Random face",
    ),
];

/// What a command does once chosen (by menu or shortcut); dialogs open here.
#[derive(Clone, Copy)]
enum Command {
    OpenPhotos,
    OpenSession,
    SaveSession,
    Export,
    Close,
    Undo,
    Redo,
}

fn run(command: Command, state: &EditorState) -> Option<Action> {
    match command {
        Command::OpenPhotos => dialogs::pick_photos().map(Action::OpenPhotos),
        Command::OpenSession => dialogs::pick_session().map(Action::OpenSession),
        Command::SaveSession => dialogs::save_session().map(Action::SaveSession),
        Command::Export => {
            let p = state.selected_photo()?;
            dialogs::save_png(&format!("{}_edited.png", p.stem())).map(|path| Action::Export {
                kind: ExportKind::EditedFace,
                path,
            })
        }
        Command::Close => state.selected.map(Action::ClosePhoto),
        Command::Undo => Some(Action::Undo),
        Command::Redo => Some(Action::Redo),
    }
}

pub struct MenuBar;

impl MenuBar {
    /// The shortcuts pressed this frame (redo before undo: Ctrl+Shift+Z also reads as Ctrl+Z).
    pub fn shortcuts(&mut self, ctx: &egui::Context, state: &EditorState) -> Vec<Action> {
        let mut actions = Vec::new();
        let pressed = |s: &KeyboardShortcut| ctx.input_mut(|i| i.consume_shortcut(s));
        for (shortcut, command) in [
            (REDO, Command::Redo),
            (UNDO, Command::Undo),
            (OPEN, Command::OpenPhotos),
            (SAVE_SESSION, Command::SaveSession),
            (EXPORT, Command::Export),
            (CLOSE, Command::Close),
        ] {
            if pressed(&shortcut) {
                actions.extend(run(command, state));
            }
        }
        for (shortcut, view, _) in VIEWS {
            if pressed(&shortcut) {
                actions.push(Action::SetView(view));
            }
        }
        actions
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, state: &EditorState) -> Vec<Action> {
        let mut chosen: Vec<Command> = Vec::new();
        let mut actions = Vec::new();
        let ctx = ui.ctx().clone();
        let item =
            |ui: &mut egui::Ui, text: &str, shortcut: Option<&KeyboardShortcut>, enabled: bool| {
                let mut b = egui::Button::new(text);
                if let Some(s) = shortcut {
                    b = b.shortcut_text(ctx.format_shortcut(s));
                }
                ui.add_enabled(enabled, b).clicked()
            };
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                let photo = state.selected.is_some();
                for (text, shortcut, command, enabled) in [
                    ("Open photos…", Some(&OPEN), Command::OpenPhotos, true),
                    ("Open session…", None, Command::OpenSession, true),
                    (
                        "Save session…",
                        Some(&SAVE_SESSION),
                        Command::SaveSession,
                        !state.photos.is_empty(),
                    ),
                    ("Export edited face…", Some(&EXPORT), Command::Export, photo),
                    ("Close photo", Some(&CLOSE), Command::Close, photo),
                ] {
                    if item(ui, text, shortcut, enabled) {
                        chosen.push(command);
                    }
                }
                if item(
                    ui,
                    "Export all edits…",
                    None,
                    !state.photos.is_empty() && state.task.is_none(),
                ) && let Some(dir) = dialogs::pick_folder()
                {
                    actions.push(Action::ExportAll(dir));
                }
                if item(ui, "Apply to video…", None, photo && state.task.is_none())
                    && let Some(input) = dialogs::pick_video()
                    && let Some(output) = dialogs::save_video(&input)
                {
                    actions.push(Action::ApplyToVideo { input, output });
                }
                ui.menu_button("Open recent", |ui| {
                    for p in &state.recent.sessions {
                        if ui.button(format!("session: {}", p.display())).clicked() {
                            actions.push(Action::OpenSession(p.clone()));
                        }
                    }
                    for p in &state.recent.photos {
                        if ui.button(p.display().to_string()).clicked() {
                            actions.push(Action::OpenPhotos(vec![p.clone()]));
                        }
                    }
                    if state.recent.sessions.is_empty() && state.recent.photos.is_empty() {
                        ui.label("nothing yet");
                    }
                });
                ui.separator();
                if item(ui, "Open generator…", None, true)
                    && let Some(p) = dialogs::pick_generator()
                {
                    actions.push(Action::LoadGenerator(p));
                }
                if item(ui, "Open encoder…", None, true)
                    && let Some(p) = dialogs::pick_encoder()
                {
                    actions.push(Action::LoadEncoder(p));
                }
                if item(ui, "Open directions…", None, true)
                    && let Some(p) = dialogs::pick_directions()
                {
                    actions.push(Action::LoadDirections(p));
                }
            });
            ui.menu_button("Edit", |ui| {
                if item(ui, "Undo", Some(&UNDO), state.can_undo()) {
                    chosen.push(Command::Undo);
                }
                if item(ui, "Redo", Some(&REDO), state.can_redo()) {
                    chosen.push(Command::Redo);
                }
                if item(ui, "Reset all sliders", None, state.selected.is_some()) {
                    actions.push(Action::ResetAll);
                }
            });
            ui.menu_button("View", |ui| {
                for (shortcut, view, name) in VIEWS {
                    if item(ui, name, Some(&shortcut), state.view != view) {
                        actions.push(Action::SetView(view));
                    }
                }
            });
        });
        for c in chosen {
            actions.extend(run(c, state));
        }
        actions
    }
}
