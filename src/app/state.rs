//! The editor's state and its reducer, apart from how it is drawn: panels read the state and
//! return [`Action`]s; [`EditorState::dispatch`] applies them and [`EditorState::apply`]
//! applies the engine's events; both return the [`Effect`]s to carry out (requests to the
//! engine, files to write). Every behaviour here is tested without a window.

use std::ops::Range;
use std::path::PathBuf;

use super::dialogs::is_session;
use super::undo::{Change, SetValues, UndoStack};
use crate::edit::directions::DirectionInfo;
use crate::engine::{Event, ExportKind, Frame, MixFrames, PhotoView, Request, SeedFace};
use crate::model::GeneratorConfig;
use crate::model_source::ModelOrigin;
use crate::pti::{CancelToken, TuningProgress};
use crate::workspace::{DirectionMethod, MixPane, PhotoId, SeedMix};

/// What the central area shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The selected photo: original | reconstruction | edited, with its sliders.
    Edit,
    /// Two photos' feature and latent codes mixed (FSE Fig. 7) and a layer-range mix.
    Mix,
    /// Faces drawn from a seed.
    Random,
}

/// Where the engine stands, as the status bar tells it.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineStatus {
    Starting,
    Ready,
    /// The engine thread is gone (its channel closed): the UI offers a restart.
    Stopped,
    /// The engine runs but no generator loaded (e.g. the bundled model is missing): the user
    /// opens one.
    NoModel,
}

/// A personalization running now.
#[derive(Debug, Clone)]
pub struct TuningJob {
    pub photos: Vec<PhotoId>,
    pub progress: Option<TuningProgress>,
    pub cancel: CancelToken,
}

/// How a photo was personalized.
#[derive(Debug, Clone, PartialEq)]
pub struct Personalized {
    pub steps: usize,
    pub seconds: f64,
    pub perceptual: String,
}

/// An open photo in the library.
#[derive(Debug, Clone)]
pub struct PhotoEntry {
    pub view: PhotoView,
    /// Counts the views received for this photo, so textures know when to refresh.
    pub serial: u64,
    /// Slider values, one per direction.
    pub sliders: Vec<f32>,
    /// The photo with its sliders applied (absent while all are at 0).
    pub edited: Option<Frame>,
    pub personalized: Option<Personalized>,
    requested: Option<Vec<f32>>,
    /// Whether the last edit asked for was a preview (a full frame follows when the hand rests).
    requested_preview: bool,
    /// What the last full frame of an edit cost, in ms.
    pub full_frame_ms: f64,
    edit_id: u64,
}

impl PhotoEntry {
    pub fn id(&self) -> PhotoId {
        self.view.id
    }

    pub fn name(&self) -> String {
        self.view
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    pub fn stem(&self) -> &str {
        &self.view.stem
    }
}

/// The Mix view's choices and its latest images.
#[derive(Debug, Clone)]
pub struct MixState {
    pub a: Option<PhotoId>,
    pub b: Option<PhotoId>,
    /// The w+ entries of B put into A.
    pub layers: Range<usize>,
    pub frames: Option<MixFrames>,
    requested: Option<(PhotoId, PhotoId, Range<usize>)>,
    next_id: u64,
}

/// Which of the two mixed photos.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MixSlot {
    A,
    B,
}

/// Something the user did.
#[derive(Debug, Clone)]
pub enum Action {
    OpenPhotos(Vec<PathBuf>),
    Select(PhotoId),
    ClosePhoto(PhotoId),
    NextFace(PhotoId),
    /// Every other face of a group photo as an entry of its own.
    OpenOtherFaces(PhotoId),
    SetView(View),
    /// A slider of the selected photo moved (part of a gesture until `EndGesture`).
    SetSlider {
        index: usize,
        value: f32,
    },
    /// The pointer was released: the sliders moved since the gesture began are one undo step.
    EndGesture,
    ResetSlider(usize),
    ResetAll,
    Undo,
    Redo,
    SetSeed(u64),
    SetTruncation(f32),
    /// The Random view's second seed and the w+ entries taken from it (none: one seed).
    SetSeedMix(Option<SeedMix>),
    MixPick {
        slot: MixSlot,
        photo: PhotoId,
    },
    /// The random face shown now, as a new editable entry.
    EditSeed,
    /// A pane of the Mix view as a new editable entry.
    EditMixPane(MixPane),
    SetMixLayers(Range<usize>),
    /// Personalize these photos (together when several).
    Personalize(Vec<PhotoId>),
    CancelPersonalize,
    Revert(PhotoId),
    /// The selected photo's edited face or whole photo, to this file.
    Export {
        kind: ExportKind,
        path: PathBuf,
    },
    /// A frame the UI shows (a mix pane, a random face), to this file.
    SaveFrame {
        frame: Frame,
        path: PathBuf,
    },
    SaveSession(PathBuf),
    OpenSession(PathBuf),
    LoadGenerator(PathBuf),
    LoadEncoder(PathBuf),
    LoadDirections(PathBuf),
    /// Compute SeFa or GANSpace directions of the loaded generator (a job).
    ComputeDirections(DirectionMethod),
    /// Every open photo's edits into this folder (a job).
    ExportAll(PathBuf),
    /// The selected photo's slider values on every frame of a video (a job).
    ApplyToVideo {
        input: PathBuf,
        output: PathBuf,
    },
    CancelTask,
    SaveDirections(PathBuf),
    DismissErrors,
    /// The window is asked to close.
    CloseRequested,
    /// From the quit prompt: save the session here, then quit.
    SaveAndQuit(PathBuf),
    QuitWithoutSaving,
    CancelQuit,
}

/// What the reducer asks the app to carry out.
#[derive(Debug)]
pub enum Effect {
    Send(Request),
    /// Write this frame as a PNG (atomically).
    SaveFrame(Frame, PathBuf),
    /// Keep the window open (the user is asked about unsaved changes first).
    CancelClose,
    /// Close the window.
    Close,
}

/// Files opened lately and the folder the dialogs start in, kept between runs.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Recent {
    pub photos: Vec<PathBuf>,
    pub sessions: Vec<PathBuf>,
    pub folder: Option<PathBuf>,
}

impl Recent {
    const MAX: usize = 8;

    fn add(list: &mut Vec<PathBuf>, path: &std::path::Path) {
        list.retain(|p| p != path);
        list.insert(0, path.to_path_buf());
        list.truncate(Self::MAX);
    }

    fn used(&mut self, path: &std::path::Path) {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            self.folder = Some(dir.to_path_buf());
        }
    }
}

/// A full frame slower than this is replaced by a preview while a slider is dragged.
pub const PREVIEW_ABOVE_MS: f64 = 60.0;

/// Steps of a personalization started from the editor (PTI's default).
pub const PERSONALIZE_STEPS: usize = 350;

pub struct EditorState {
    pub status: EngineStatus,
    pub device: String,
    pub origin: Option<ModelOrigin>,
    pub config: Option<GeneratorConfig>,
    pub view: View,
    pub photos: Vec<PhotoEntry>,
    pub selected: Option<PhotoId>,
    /// The sliders of the active direction set and where the set came from.
    pub directions: Vec<DirectionInfo>,
    pub directions_label: String,
    /// The engine's id of that set.
    set_id: Option<u64>,
    /// The user asked for another set (opened or computed): its arrival is an undo step.
    set_change_asked: bool,
    /// A set brought back by undo/redo and the slider values to give the photos with it.
    restoring_set: Option<SetValues>,
    pub params: SeedFace,
    pub frame: Option<(SeedFace, Frame)>,
    pub mix: MixState,
    pub tuning: Option<TuningJob>,
    /// A background task running now (computing directions, exporting): what it does, how
    /// far, and its cancel token.
    pub task: Option<(String, f32, CancelToken)>,
    /// Photos waiting for the engine to start, and how many are being opened.
    pending_photos: Vec<PathBuf>,
    /// Session files named on the command line, opened once the engine is up.
    pending_sessions: Vec<PathBuf>,
    /// Photos the user opened (absolute paths) whose arrival is an undo step.
    opened_by_hand: Vec<PathBuf>,
    pub opening: usize,
    undo: UndoStack,
    /// The selected photo's slider values when the current gesture began (a slider is being
    /// dragged while this is set).
    gesture: Option<(PhotoId, Vec<f32>)>,
    /// The last thing done (saved, loaded), for the status bar.
    pub notice: Option<String>,
    /// Errors since the log was last dismissed, oldest first; nothing is lost when one occurs.
    pub errors: Vec<String>,
    /// Changes since the session was last saved or opened.
    pub unsaved: bool,
    pub recent: Recent,
    /// The window asked to close with unsaved changes: the prompt is shown.
    pub quit_prompt: bool,
    /// The user chose to quit: closing is no longer stopped.
    quitting: bool,
    /// Photos opened again by undo: their face and slider values, applied when they arrive.
    reopening: Vec<(PathBuf, usize, Vec<f32>)>,
    /// A face to choose for a photo that arrived (undo of a closed group-photo face).
    choose_face: Vec<(PhotoId, usize)>,
    requested_render: Option<SeedFace>,
    next_render_id: u64,
    next_edit_id: u64,
}

impl EditorState {
    /// The editor opening `paths`: photos, and session files (`.facestyle`) as File > Open
    /// session would.
    pub fn new(paths: Vec<PathBuf>) -> Self {
        let (sessions, photos): (Vec<PathBuf>, Vec<PathBuf>) =
            paths.into_iter().partition(|p| is_session(p));
        let mut recent = Recent::default();
        for p in &photos {
            Recent::add(&mut recent.photos, p);
        }
        for p in &sessions {
            Recent::add(&mut recent.sessions, p);
        }
        Self {
            status: EngineStatus::Starting,
            device: String::new(),
            origin: None,
            config: None,
            view: if photos.is_empty() && sessions.is_empty() {
                View::Random
            } else {
                View::Edit
            },
            photos: Vec::new(),
            selected: None,
            directions: Vec::new(),
            directions_label: String::new(),
            set_id: None,
            set_change_asked: false,
            restoring_set: None,
            params: SeedFace::new(0, 0.7),
            frame: None,
            mix: MixState {
                a: None,
                b: None,
                layers: 0..4,
                frames: None,
                requested: None,
                next_id: 0,
            },
            tuning: None,
            task: None,
            pending_photos: photos,
            pending_sessions: sessions,
            opened_by_hand: Vec::new(),
            opening: 0,
            undo: UndoStack::default(),
            gesture: None,
            notice: None,
            errors: Vec::new(),
            unsaved: false,
            recent,
            quit_prompt: false,
            quitting: false,
            reopening: Vec::new(),
            choose_face: Vec::new(),
            requested_render: None,
            next_render_id: 0,
            next_edit_id: 0,
        }
    }

    pub fn photo(&self, id: PhotoId) -> Option<&PhotoEntry> {
        self.photos.iter().find(|p| p.id() == id)
    }

    fn photo_mut(&mut self, id: PhotoId) -> Option<&mut PhotoEntry> {
        self.photos.iter_mut().find(|p| p.id() == id)
    }

    pub fn selected_photo(&self) -> Option<&PhotoEntry> {
        self.selected.and_then(|id| self.photo(id))
    }

    pub fn can_undo(&self) -> bool {
        self.undo.can_undo()
    }

    pub fn can_redo(&self) -> bool {
        self.undo.can_redo()
    }

    fn engine_usable(&self) -> bool {
        !matches!(
            self.status,
            EngineStatus::Starting | EngineStatus::Stopped | EngineStatus::NoModel
        )
    }

    /// The warning to show while the running model is an interim stand-in.
    pub fn interim_notice(&self) -> Option<String> {
        self.origin.as_ref().and_then(ModelOrigin::interim_notice)
    }

    // ---- the reducer ----------------------------------------------------------------------

    /// Applies a user action; returns what to carry out now.
    pub fn dispatch(&mut self, action: Action) -> Vec<Effect> {
        let send = |r| vec![Effect::Send(r)];
        match action {
            Action::OpenPhotos(paths) => {
                for p in &paths {
                    Recent::add(&mut self.recent.photos, p);
                    self.recent.used(p);
                    self.opened_by_hand
                        .push(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()));
                }
                self.pending_photos.extend(paths)
            }
            Action::Select(id) => {
                if self.photo(id).is_some() {
                    self.end_gesture();
                    self.selected = Some(id);
                    self.view = View::Edit;
                }
            }
            Action::ClosePhoto(id) => {
                if let Some(p) = self.photo(id) {
                    // a photo file can be opened again by undo (a generated face cannot)
                    if p.view.path.is_file() {
                        self.undo.push(Change::Photo {
                            path: p.view.path.clone(),
                            face: p.view.face,
                            sliders: p.sliders.clone(),
                            open: false,
                        });
                    }
                    return send(Request::ClosePhoto(id));
                }
            }
            Action::NextFace(id) => {
                if let Some(p) = self.photo(id)
                    && p.view.faces > 1
                {
                    let face = (p.view.face + 1) % p.view.faces;
                    self.opening += 1;
                    return send(Request::ChooseFace { photo: id, face });
                }
            }
            Action::OpenOtherFaces(id) => {
                if let Some(p) = self.photo(id)
                    && p.view.faces > 1
                {
                    self.opening += p.view.faces - 1;
                    return send(Request::OpenOtherFaces(id));
                }
            }
            Action::SetView(v) => self.view = v,
            Action::SetSlider { index, value } => {
                let Some(id) = self.selected else {
                    return Vec::new();
                };
                let Some(p) = self.photo_mut(id) else {
                    return Vec::new();
                };
                if index >= p.sliders.len() || !value.is_finite() {
                    return Vec::new();
                }
                let before = p.sliders.clone();
                p.sliders[index] = value;
                if self.gesture.as_ref().is_none_or(|(g, _)| *g != id) {
                    self.gesture = Some((id, before));
                }
                self.unsaved = true;
            }
            Action::EndGesture => self.end_gesture(),
            Action::ResetSlider(index) => {
                self.set_all_sliders(|i, v| if i == index { 0.0 } else { v })
            }
            Action::ResetAll => self.set_all_sliders(|_, _| 0.0),
            Action::Undo => {
                self.end_gesture();
                if let Some(c) = self.undo.undo() {
                    return self.apply_change(c);
                }
            }
            Action::Redo => {
                self.end_gesture();
                if let Some(c) = self.undo.redo() {
                    return self.apply_change(c);
                }
            }
            Action::SetSeed(seed) => self.params.seed = seed,
            Action::SetTruncation(t) => self.params.truncation = t.clamp(0.0, 1.0),
            Action::SetSeedMix(mix) => {
                let n = self.config.as_ref().map_or(0, |c| c.n_latent());
                if mix.is_none_or(|m| m.from < m.to && m.to <= n) {
                    self.params.mix = mix;
                }
            }
            Action::MixPick { slot, photo } => {
                if self.photo(photo).is_some() {
                    match slot {
                        MixSlot::A => self.mix.a = Some(photo),
                        MixSlot::B => self.mix.b = Some(photo),
                    }
                }
            }
            Action::EditSeed => {
                if let Some((params, _)) = &self.frame {
                    self.opening += 1;
                    return send(Request::EditSeed(*params));
                }
            }
            Action::EditMixPane(pane) => {
                if let (Some(a), Some(b)) = (self.mix.a, self.mix.b) {
                    self.opening += 1;
                    return send(Request::EditMixPane { a, b, pane });
                }
            }
            Action::SetMixLayers(layers) => {
                let n = self.config.as_ref().map_or(0, |c| c.n_latent());
                if !layers.is_empty() && layers.end <= n && layers != self.mix.layers {
                    self.undo.push(Change::MixLayers {
                        before: self.mix.layers.clone(),
                        after: layers.clone(),
                    });
                    self.mix.layers = layers;
                }
            }
            Action::Personalize(photos) => {
                if self.tuning.is_none() && !photos.is_empty() {
                    let cancel = CancelToken::default();
                    self.tuning = Some(TuningJob {
                        photos: photos.clone(),
                        progress: None,
                        cancel: cancel.clone(),
                    });
                    return send(Request::Personalize {
                        photos,
                        steps: PERSONALIZE_STEPS,
                        cancel,
                    });
                }
            }
            Action::CancelPersonalize => {
                if let Some(job) = &self.tuning {
                    job.cancel.cancel();
                }
            }
            Action::Revert(id) => {
                if self.photo(id).is_some_and(|p| p.personalized.is_some()) {
                    self.undo.push(Change::Personalization {
                        photo: id,
                        tuned: false,
                    });
                    return send(Request::Revert(id));
                }
            }
            Action::Export { kind, path } => {
                self.recent.used(&path);
                if let Some(photo) = self.selected {
                    return send(Request::Export { photo, kind, path });
                }
            }
            Action::SaveFrame { frame, path } => return vec![Effect::SaveFrame(frame, path)],
            Action::SaveSession(path) => {
                self.end_gesture();
                self.unsaved = false;
                Recent::add(&mut self.recent.sessions, &path);
                self.recent.used(&path);
                return send(Request::SaveSession(path));
            }
            Action::OpenSession(path) => {
                Recent::add(&mut self.recent.sessions, &path);
                self.recent.used(&path);
                return send(Request::OpenSession(path));
            }
            Action::CloseRequested => {
                if !self.quitting && self.unsaved && !self.photos.is_empty() {
                    self.quit_prompt = true;
                    return vec![Effect::CancelClose];
                }
            }
            Action::SaveAndQuit(path) => {
                let mut effects = self.dispatch(Action::SaveSession(path));
                effects.extend(self.dispatch(Action::QuitWithoutSaving));
                return effects;
            }
            Action::QuitWithoutSaving => {
                self.quitting = true;
                self.quit_prompt = false;
                return vec![Effect::Close];
            }
            Action::CancelQuit => self.quit_prompt = false,
            Action::LoadGenerator(path) => return send(Request::LoadGenerator(path)),
            Action::LoadEncoder(path) => return send(Request::LoadEncoder(path)),
            Action::LoadDirections(path) => {
                self.set_change_asked = true;
                return send(Request::LoadDirections(path));
            }
            Action::ComputeDirections(method) => {
                if self.task.is_none() {
                    let cancel = CancelToken::default();
                    self.set_change_asked = true;
                    self.task = Some((method.name().to_string(), 0.0, cancel.clone()));
                    return send(Request::ComputeDirections { method, cancel });
                }
            }
            Action::ExportAll(dir) => {
                if self.task.is_none() && !self.photos.is_empty() {
                    let cancel = CancelToken::default();
                    self.task = Some(("exporting".into(), 0.0, cancel.clone()));
                    return send(Request::ExportAll { dir, cancel });
                }
            }
            Action::ApplyToVideo { input, output } => {
                if self.task.is_none()
                    && let Some(photo) = self.selected
                {
                    let cancel = CancelToken::default();
                    self.task = Some(("editing a video".into(), 0.0, cancel.clone()));
                    return send(Request::ApplyToVideo {
                        photo,
                        input,
                        output,
                        cancel,
                    });
                }
            }
            Action::CancelTask => {
                if let Some((_, _, cancel)) = &self.task {
                    cancel.cancel();
                }
            }
            Action::SaveDirections(path) => return send(Request::SaveDirections(path)),
            Action::DismissErrors => self.errors.clear(),
        }
        Vec::new()
    }

    /// Sets every slider of the selected photo at once (resets): one undo step.
    fn set_all_sliders(&mut self, f: impl Fn(usize, f32) -> f32) {
        self.end_gesture();
        let Some(id) = self.selected else { return };
        let Some(p) = self.photo_mut(id) else { return };
        let before = p.sliders.clone();
        p.sliders = before.iter().enumerate().map(|(i, v)| f(i, *v)).collect();
        if p.sliders != before {
            let after = p.sliders.clone();
            self.undo.push(Change::Sliders {
                photo: id,
                before,
                after,
            });
            self.unsaved = true;
        }
    }

    fn end_gesture(&mut self) {
        let Some((id, before)) = self.gesture.take() else {
            return;
        };
        if let Some(p) = self.photo(id)
            && p.sliders != before
        {
            let after = p.sliders.clone();
            self.undo.push(Change::Sliders {
                photo: id,
                before,
                after,
            });
        }
    }

    fn apply_change(&mut self, change: Change) -> Vec<Effect> {
        match change {
            Change::Sliders { photo, after, .. } => {
                if let Some(p) = self.photo_mut(photo) {
                    p.sliders = after;
                    self.selected = Some(photo);
                    self.unsaved = true;
                }
            }
            Change::MixLayers { after, .. } => self.mix.layers = after,
            Change::Directions { after, .. } => {
                let set = after.set;
                self.restoring_set = Some(after);
                return vec![Effect::Send(Request::UseDirections(set))];
            }
            Change::Personalization { photo, tuned } => {
                if self.photo(photo).is_some() {
                    self.selected = Some(photo);
                    return vec![Effect::Send(if tuned {
                        Request::Restore(photo)
                    } else {
                        Request::Revert(photo)
                    })];
                }
            }
            Change::Photo {
                path,
                face,
                sliders,
                open: true,
            } => {
                // opened again: its face and sliders are set when it arrives
                self.reopening.push((path.clone(), face, sliders));
                self.pending_photos.push(path);
            }
            Change::Photo { path, face, .. } => {
                let id = self
                    .photos
                    .iter()
                    .find(|p| p.view.path == path && p.view.face == face)
                    .map(PhotoEntry::id);
                if let Some(id) = id {
                    return vec![Effect::Send(Request::ClosePhoto(id))];
                }
            }
        }
        Vec::new()
    }

    /// The requests the state calls for now: photos waiting to open, a render when the seed
    /// changed, an edit for each photo whose sliders moved, a mix when its choices changed.
    pub fn requests(&mut self) -> Vec<Request> {
        let mut out = Vec::new();
        if !self.engine_usable() {
            return out;
        }
        if !self.pending_photos.is_empty() {
            self.opening += self.pending_photos.len();
            out.push(Request::OpenPhotos(std::mem::take(
                &mut self.pending_photos,
            )));
        }
        out.extend(self.pending_sessions.drain(..).map(Request::OpenSession));
        if self.view == View::Random && self.requested_render != Some(self.params) {
            self.requested_render = Some(self.params);
            self.next_render_id += 1;
            out.push(Request::Render {
                params: self.params,
                id: self.next_render_id,
            });
        }
        let dragging = self.gesture.is_some();
        for i in 0..self.photos.len() {
            let p = &self.photos[i];
            let preview = dragging && p.full_frame_ms > PREVIEW_ABOVE_MS;
            let drawn =
                p.requested.as_ref() == Some(&p.sliders) && (!p.requested_preview || preview);
            if drawn || p.sliders.is_empty() {
                continue;
            }
            let sliders = p.sliders.clone();
            let photo = p.id();
            self.next_edit_id += 1;
            let id = self.next_edit_id;
            let p = &mut self.photos[i];
            p.requested = Some(sliders.clone());
            p.requested_preview = preview;
            p.edit_id = id;
            if sliders.iter().all(|v| *v == 0.0) {
                p.edited = None;
            }
            out.push(Request::Edit {
                photo,
                sliders,
                id,
                preview,
            });
        }
        if self.view == View::Mix
            && let (Some(a), Some(b)) = (self.mix.a, self.mix.b)
        {
            let wanted = (a, b, self.mix.layers.clone());
            if self.mix.requested.as_ref() != Some(&wanted) {
                self.mix.next_id += 1;
                self.mix.requested = Some(wanted);
                out.push(Request::Mix {
                    a,
                    b,
                    layers: self.mix.layers.clone(),
                    id: self.mix.next_id,
                });
            }
        }
        out
    }

    /// Applies an event of the engine.
    pub fn apply(&mut self, event: Event) {
        match event {
            Event::Ready {
                device,
                origin,
                config,
            } => {
                self.device = device;
                self.origin = Some(origin);
                let n = config.n_latent();
                if self.mix.layers.end > n {
                    self.mix.layers = 0..n.min(4);
                }
                if self.params.mix.is_some_and(|m| m.to > n) {
                    self.params.mix = None;
                }
                self.config = Some(config);
                self.status = EngineStatus::Ready;
                self.requested_render = None;
                self.mix.requested = None;
            }
            Event::Frame(params, frame) => {
                if frame.id == self.next_render_id || self.frame.is_none() {
                    self.frame = Some((params, frame));
                }
            }
            Event::Photo(view) => self.photo_arrived(*view),
            Event::PhotoClosed(id) => {
                self.photos.retain(|p| p.id() != id);
                self.undo.forget_photo(id);
                if self.gesture.as_ref().is_some_and(|(g, _)| *g == id) {
                    self.gesture = None;
                }
                if self.selected == Some(id) {
                    self.selected = self.photos.last().map(PhotoEntry::id);
                }
                for slot in [&mut self.mix.a, &mut self.mix.b] {
                    if *slot == Some(id) {
                        *slot = None;
                    }
                }
                if self.mix.a.is_none() || self.mix.b.is_none() {
                    self.mix.frames = None;
                }
                self.unsaved = true;
            }
            Event::Edited {
                photo,
                frame,
                preview,
            } => {
                if let Some(p) = self.photo_mut(photo)
                    && frame.id == p.edit_id
                {
                    if !preview {
                        p.full_frame_ms = frame.millis;
                    }
                    p.edited = Some(frame);
                }
            }
            Event::Mixed(frames) => {
                if frames.id == self.mix.next_id {
                    self.mix.frames = Some(*frames);
                }
            }
            Event::Tuning { progress, .. } => {
                if let Some(job) = &mut self.tuning {
                    job.progress = Some(progress);
                }
            }
            Event::Personalized {
                photos,
                steps,
                seconds,
                perceptual,
            } => {
                // a personalization that ran to its end (not one put back by undo) is a step
                let finished = photos.first().filter(|first| {
                    self.tuning
                        .as_ref()
                        .is_some_and(|j| j.photos.contains(first))
                });
                if let Some(&photo) = finished {
                    self.tuning = None;
                    self.undo
                        .push(Change::Personalization { photo, tuned: true });
                }
                for id in photos {
                    if let Some(p) = self.photo_mut(id) {
                        p.personalized = Some(Personalized {
                            steps,
                            seconds,
                            perceptual: perceptual.clone(),
                        });
                    }
                }
                self.unsaved = true;
            }
            Event::Unpersonalized(photos) => {
                if self
                    .tuning
                    .as_ref()
                    .is_some_and(|j| j.photos.iter().any(|p| photos.contains(p)))
                {
                    self.tuning = None;
                }
                for id in photos {
                    if let Some(p) = self.photo_mut(id) {
                        p.personalized = None;
                    }
                }
            }
            Event::Progress {
                task,
                fraction,
                done,
            } => {
                self.task = match (done, self.task.take()) {
                    (true, _) | (_, None) => None,
                    (false, Some((_, _, cancel))) => Some((task, fraction, cancel)),
                };
            }
            Event::Notice(text) => self.notice = Some(text),
            Event::SessionOpened { path, photos } => {
                self.notice = Some(format!("opened {} ({photos} photos)", path.display()));
                // only the session's own photos are open: the file holds all there is
                if self.photos.len() == photos {
                    self.unsaved = false;
                }
            }
            Event::VideoSaved(_) => {}
            Event::Directions { infos, label, set } => self.directions_arrived(infos, label, set),
            Event::PhotoFailed(e) => {
                self.opening = self.opening.saturating_sub(1);
                self.errors.push(e);
            }
            Event::Error(e) => {
                self.set_change_asked = false;
                self.restoring_set = None;
                if self.status == EngineStatus::Starting && self.config.is_none() {
                    self.status = EngineStatus::NoModel;
                }
                self.errors.push(e);
            }
        }
    }

    /// A direction set became active: every photo's sliders start at 0, or take the values
    /// undo kept for it. A set the user asked for is an undo step.
    fn directions_arrived(&mut self, infos: Vec<DirectionInfo>, label: String, set: u64) {
        self.end_gesture();
        let before = self.set_id.map(|id| self.set_values(id));
        let n = infos.len();
        self.directions = infos;
        self.directions_label = label;
        self.set_id = Some(set);
        let restored = self.restoring_set.take_if(|r| r.set == set);
        for p in &mut self.photos {
            p.sliders = restored
                .as_ref()
                .and_then(|r| r.sliders.iter().find(|(id, _)| *id == p.view.id))
                .map(|(_, v)| v.clone())
                .filter(|v| v.len() == n)
                .unwrap_or_else(|| vec![0.0; n]);
            p.requested = None;
            p.edited = None;
        }
        if restored.is_none()
            && std::mem::take(&mut self.set_change_asked)
            && let Some(before) = before.filter(|b| b.set != set)
        {
            let after = self.set_values(set);
            self.undo.push(Change::Directions { before, after });
        }
    }

    /// Every photo's slider values, as the set `set`'s.
    fn set_values(&self, set: u64) -> SetValues {
        SetValues {
            set,
            sliders: self
                .photos
                .iter()
                .map(|p| (p.id(), p.sliders.clone()))
                .collect(),
        }
    }

    /// A photo opened, or redrawn (another face, personalized, reverted, from a session).
    fn photo_arrived(&mut self, view: PhotoView) {
        let id = view.id;
        let n = self.directions.len();
        match self.photo_mut(id) {
            Some(p) => {
                p.serial += 1;
                p.personalized = p.personalized.take().filter(|_| view.personalized);
                // the sliders stay the user's; the edited face is drawn again
                p.requested = None;
                p.view = view;
            }
            None => {
                self.opening = self.opening.saturating_sub(1);
                let mut sliders = if view.sliders.len() == n {
                    view.sliders.clone()
                } else {
                    vec![0.0; n]
                };
                if let Some(i) = self.opened_by_hand.iter().position(|p| *p == view.path)
                    && !self.reopening.iter().any(|(p, _, _)| *p == view.path)
                {
                    // opened by the user: undo closes it again
                    self.opened_by_hand.remove(i);
                    self.undo.push(Change::Photo {
                        path: view.path.clone(),
                        face: view.face,
                        sliders: sliders.clone(),
                        open: true,
                    });
                }
                if let Some(i) = self.reopening.iter().position(|(p, _, _)| *p == view.path) {
                    let (_, face, values) = self.reopening.remove(i);
                    if values.len() == n {
                        sliders = values.clone();
                    }
                    if face != view.face {
                        // the face it showed: chosen again, then its sliders come back
                        self.choose_face.push((id, face));
                        self.reopening.push((view.path.clone(), face, values));
                    }
                }
                let personalized = view.personalized.then(|| Personalized {
                    steps: 0,
                    seconds: 0.0,
                    perceptual: "from the session".into(),
                });
                self.photos.push(PhotoEntry {
                    view,
                    serial: 0,
                    requested: Some(vec![0.0; n]).filter(|_| sliders.iter().all(|v| *v == 0.0)),
                    sliders,
                    edited: None,
                    personalized,
                    requested_preview: false,
                    full_frame_ms: 0.0,
                    edit_id: 0,
                });
                self.selected = Some(id);
                self.view = View::Edit;
                // the first two photos are what the Mix view starts with
                if self.mix.a.is_none() {
                    self.mix.a = Some(id);
                } else if self.mix.b.is_none() {
                    self.mix.b = Some(id);
                }
                self.unsaved = true;
            }
        }
    }

    /// The engine's channel closed: say so; nothing the user has open is dropped.
    pub fn engine_stopped(&mut self) {
        if self.status != EngineStatus::Stopped {
            self.status = EngineStatus::Stopped;
            self.tuning = None;
            self.errors
                .push("the engine stopped; press \"Restart engine\" to go on".into());
        }
    }

    /// A new engine replaces the stopped one: it starts with the bundled model, the photos are
    /// opened again (as new entries) and their sliders sent again.
    pub fn engine_restarted(&mut self) {
        self.status = EngineStatus::Starting;
        self.requested_render = None;
        self.mix.requested = None;
        let photos = std::mem::take(&mut self.photos);
        self.selected = None;
        self.mix.a = None;
        self.mix.b = None;
        self.mix.frames = None;
        self.undo = UndoStack::default();
        self.pending_photos
            .extend(photos.into_iter().map(|p| p.view.path));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Quality;

    fn frame(id: u64) -> Frame {
        Frame::from_rgb(id, image::RgbImage::new(2, 2), 1.0)
    }

    fn view(id: u64, name: &str) -> PhotoView {
        PhotoView {
            id: PhotoId(id),
            path: name.into(),
            stem: name.into(),
            input: frame(0),
            reconstruction: frame(0),
            quality: Quality {
                mse: 0.0,
                psnr: 0.0,
                ssim: 0.0,
            },
            aligned: true,
            faces: 2,
            face: 0,
            personalized: false,
            sliders: Vec::new(),
        }
    }

    fn direction(name: &str) -> DirectionInfo {
        DirectionInfo {
            name: name.into(),
            layers: 0..4,
            range: (-3.0, 3.0),
            source: "test".into(),
        }
    }

    /// Ready, two sliders, two photos open (A selected last = B).
    fn ready_with_photos() -> EditorState {
        let mut s = EditorState::new(vec!["a.jpg".into(), "b.jpg".into()]);
        s.apply(Event::Ready {
            device: "cpu".into(),
            origin: ModelOrigin::File("g.safetensors".into()),
            config: GeneratorConfig::stylegan2(64, 64, 2, 1),
        });
        s.apply(Event::Directions {
            infos: vec![direction("smile"), direction("age")],
            label: "set".into(),
            set: 1,
        });
        let opened = s.requests();
        assert!(matches!(&opened[0], Request::OpenPhotos(p) if p.len() == 2));
        s.apply(Event::Photo(Box::new(view(1, "a.jpg"))));
        s.apply(Event::Photo(Box::new(view(2, "b.jpg"))));
        assert!(
            s.requests().is_empty(),
            "nothing to draw while sliders are at 0"
        );
        s
    }

    #[test]
    fn a_session_named_on_the_command_line_is_opened_as_a_session() {
        let mut s = EditorState::new(vec!["a.jpg".into(), "work/s.facestyle".into()]);
        assert_eq!(s.view, View::Edit);
        assert!(
            s.requests().is_empty(),
            "nothing before the engine is ready"
        );
        s.apply(Event::Ready {
            device: "cpu".into(),
            origin: ModelOrigin::File("g.safetensors".into()),
            config: GeneratorConfig::stylegan2(64, 64, 2, 1),
        });
        let r = s.requests();
        assert!(matches!(&r[0], Request::OpenPhotos(p) if p == &[PathBuf::from("a.jpg")]));
        assert!(
            matches!(&r[1], Request::OpenSession(p) if p == &PathBuf::from("work/s.facestyle"))
        );
        assert_eq!(r.len(), 2);
        assert_eq!(s.recent.sessions, vec![PathBuf::from("work/s.facestyle")]);
        assert!(
            !s.requests()
                .iter()
                .any(|r| matches!(r, Request::OpenSession(_))),
            "opened once"
        );
    }

    #[test]
    fn a_session_just_opened_has_nothing_unsaved_unless_other_photos_were_open() {
        let mut s = EditorState::new(Vec::new());
        s.apply(Event::Photo(Box::new(view(1, "a.jpg"))));
        assert!(s.unsaved);
        s.apply(Event::SessionOpened {
            path: "s.facestyle".into(),
            photos: 1,
        });
        assert!(!s.unsaved, "the session's own photo");
        assert_eq!(s.notice.as_deref(), Some("opened s.facestyle (1 photos)"));
        s.apply(Event::Photo(Box::new(view(2, "b.jpg"))));
        s.apply(Event::Photo(Box::new(view(3, "c.jpg"))));
        s.apply(Event::SessionOpened {
            path: "t.facestyle".into(),
            photos: 1,
        });
        assert!(s.unsaved, "two more photos than the second session holds");
    }

    fn edits(requests: &[Request]) -> Vec<(PhotoId, Vec<f32>, u64)> {
        requests
            .iter()
            .filter_map(|r| match r {
                Request::Edit {
                    photo, sliders, id, ..
                } => Some((*photo, sliders.clone(), *id)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_slider_drag_sends_edits_of_the_selected_photo_and_is_one_undo_step() {
        let mut s = ready_with_photos();
        assert_eq!(s.selected, Some(PhotoId(2)));
        for v in [0.5, 1.0, 1.5] {
            s.dispatch(Action::SetSlider { index: 0, value: v });
            let e = edits(&s.requests());
            assert_eq!(e.len(), 1);
            assert_eq!((e[0].0, e[0].1.clone()), (PhotoId(2), vec![v, 0.0]));
        }
        s.dispatch(Action::EndGesture);
        s.dispatch(Action::SetSlider {
            index: 1,
            value: -2.0,
        });
        s.dispatch(Action::EndGesture);
        assert_eq!(s.selected_photo().unwrap().sliders, vec![1.5, -2.0]);
        s.dispatch(Action::Undo);
        assert_eq!(s.selected_photo().unwrap().sliders, vec![1.5, 0.0]);
        s.dispatch(Action::Undo);
        assert_eq!(
            s.selected_photo().unwrap().sliders,
            vec![0.0, 0.0],
            "the whole drag is one step"
        );
        assert!(!s.can_undo());
        // undo sends the restored values to the engine
        let e = edits(&s.requests());
        assert_eq!(e.last().unwrap().1, vec![0.0, 0.0]);
        s.dispatch(Action::Redo);
        assert_eq!(s.selected_photo().unwrap().sliders, vec![1.5, 0.0]);
        // a new change drops what could be redone
        s.dispatch(Action::ResetAll);
        assert!(!s.can_redo());
        assert_eq!(s.selected_photo().unwrap().sliders, vec![0.0, 0.0]);
        s.dispatch(Action::Undo);
        assert_eq!(s.selected_photo().unwrap().sliders, vec![1.5, 0.0]);
    }

    #[test]
    fn each_photo_keeps_its_sliders_and_only_the_newest_edit_is_shown() {
        let mut s = ready_with_photos();
        s.dispatch(Action::SetSlider {
            index: 0,
            value: 2.0,
        });
        s.dispatch(Action::EndGesture);
        s.dispatch(Action::Select(PhotoId(1)));
        assert_eq!(s.selected_photo().unwrap().sliders, vec![0.0, 0.0]);
        s.dispatch(Action::SetSlider {
            index: 1,
            value: 1.0,
        });
        let e = edits(&s.requests());
        assert_eq!(e.len(), 2, "B's edit and A's edit: {e:?}");
        assert_eq!(s.photo(PhotoId(2)).unwrap().sliders, vec![2.0, 0.0]);
        // an older result of A than its newest request is dropped; the newest is kept
        let a_id = e.iter().find(|x| x.0 == PhotoId(1)).unwrap().2;
        s.apply(Event::Edited {
            photo: PhotoId(1),
            frame: frame(a_id - 1),
            preview: false,
        });
        assert!(s.photo(PhotoId(1)).unwrap().edited.is_none());
        s.apply(Event::Edited {
            photo: PhotoId(1),
            frame: frame(a_id),
            preview: false,
        });
        assert!(s.photo(PhotoId(1)).unwrap().edited.is_some());
        // a render result arriving meanwhile does not touch the edits
        s.dispatch(Action::SetView(View::Random));
        let render = s.requests();
        assert!(matches!(render[0], Request::Render { .. }));
        s.apply(Event::Frame(s.params, frame(1)));
        assert!(s.photo(PhotoId(1)).unwrap().edited.is_some());
    }

    #[test]
    fn a_slow_model_gets_previews_while_dragging_and_the_full_frame_when_the_hand_rests() {
        let mut s = ready_with_photos();
        let previews = |r: &[Request]| -> Vec<bool> {
            r.iter()
                .filter_map(|r| match r {
                    Request::Edit { preview, .. } => Some(*preview),
                    _ => None,
                })
                .collect()
        };
        // a fast model: full frames while dragging
        s.dispatch(Action::SetSlider {
            index: 0,
            value: 1.0,
        });
        assert_eq!(previews(&s.requests()), vec![false]);
        let id = s.photo(PhotoId(2)).unwrap().edit_id;
        s.apply(Event::Edited {
            photo: PhotoId(2),
            frame: Frame::from_rgb(id, image::RgbImage::new(2, 2), 900.0),
            preview: false,
        });
        // the last full frame took 900 ms: the next moves of the drag are previews
        s.dispatch(Action::SetSlider {
            index: 0,
            value: 1.5,
        });
        assert_eq!(previews(&s.requests()), vec![true]);
        s.dispatch(Action::SetSlider {
            index: 0,
            value: 2.0,
        });
        assert_eq!(previews(&s.requests()), vec![true]);
        assert!(s.requests().is_empty());
        // released: the same values once more, in full
        s.dispatch(Action::EndGesture);
        assert_eq!(previews(&s.requests()), vec![false]);
        assert!(s.requests().is_empty());
    }

    #[test]
    fn closing_with_unsaved_changes_asks_first_and_recent_files_are_kept() {
        let mut s = ready_with_photos();
        assert!(s.unsaved);
        assert_eq!(
            s.recent.photos,
            vec![PathBuf::from("b.jpg"), PathBuf::from("a.jpg")]
        );
        assert!(matches!(
            s.dispatch(Action::CloseRequested)[..],
            [Effect::CancelClose]
        ));
        assert!(s.quit_prompt);
        s.dispatch(Action::CancelQuit);
        assert!(!s.quit_prompt);
        let effects = s.dispatch(Action::SaveAndQuit("/tmp/x/s.facestyle".into()));
        assert!(matches!(&effects[0], Effect::Send(Request::SaveSession(_))));
        assert!(matches!(effects[1], Effect::Close));
        assert_eq!(s.recent.sessions, vec![PathBuf::from("/tmp/x/s.facestyle")]);
        assert_eq!(s.recent.folder, Some(PathBuf::from("/tmp/x")));
        assert!(
            s.dispatch(Action::CloseRequested).is_empty(),
            "now it closes"
        );
        // nothing unsaved: no question
        let mut t = EditorState::new(Vec::new());
        assert!(t.dispatch(Action::CloseRequested).is_empty());
    }

    #[test]
    fn closing_a_photo_is_undone_with_its_face_and_sliders() {
        let file = std::env::temp_dir().join(format!("facestyle-undo-{}.jpg", std::process::id()));
        std::fs::write(&file, b"a photo").unwrap();
        let path = file.to_string_lossy().into_owned();
        let mut s = ready_with_photos();
        s.apply(Event::Photo(Box::new(view(3, &path))));
        s.dispatch(Action::SetSlider {
            index: 1,
            value: 2.0,
        });
        s.dispatch(Action::EndGesture);
        let closed = s.dispatch(Action::ClosePhoto(PhotoId(3)));
        assert!(matches!(
            closed[..],
            [Effect::Send(Request::ClosePhoto(PhotoId(3)))]
        ));
        s.apply(Event::PhotoClosed(PhotoId(3)));
        assert!(s.photo(PhotoId(3)).is_none());
        // undo opens it again; when it arrives its sliders are back
        assert!(s.dispatch(Action::Undo).is_empty());
        assert!(matches!(&s.requests()[0], Request::OpenPhotos(p) if p == &vec![file.clone()]));
        s.apply(Event::Photo(Box::new(view(4, &path))));
        assert_eq!(s.photo(PhotoId(4)).unwrap().sliders, vec![0.0, 2.0]);
        // redo closes it again
        let again = s.dispatch(Action::Redo);
        assert!(matches!(
            again[..],
            [Effect::Send(Request::ClosePhoto(PhotoId(4)))]
        ));
        std::fs::remove_file(&file).unwrap();
    }

    #[test]
    fn opening_a_photo_is_undone_by_closing_it() {
        let file = std::env::temp_dir().join(format!("facestyle-open-{}.jpg", std::process::id()));
        std::fs::write(&file, b"a photo").unwrap();
        let path = std::fs::canonicalize(&file).unwrap();
        let mut s = ready_with_photos();
        assert!(
            !s.can_undo(),
            "the photos given at start are not undo steps"
        );
        s.dispatch(Action::OpenPhotos(vec![file.clone()]));
        assert!(matches!(&s.requests()[0], Request::OpenPhotos(p) if p == &vec![file.clone()]));
        s.apply(Event::Photo(Box::new(view(5, &path.to_string_lossy()))));
        let undo = s.dispatch(Action::Undo);
        assert!(matches!(
            undo[..],
            [Effect::Send(Request::ClosePhoto(PhotoId(5)))]
        ));
        s.apply(Event::PhotoClosed(PhotoId(5)));
        // redo opens it again, and that arrival is not a new step
        assert!(s.dispatch(Action::Redo).is_empty());
        assert!(matches!(&s.requests()[0], Request::OpenPhotos(p) if p == &vec![path.clone()]));
        s.apply(Event::Photo(Box::new(view(6, &path.to_string_lossy()))));
        assert!(!s.can_redo());
        let undo = s.dispatch(Action::Undo);
        assert!(matches!(
            undo[..],
            [Effect::Send(Request::ClosePhoto(PhotoId(6)))]
        ));
        std::fs::remove_file(&file).unwrap();
    }

    #[test]
    fn the_mix_view_asks_for_its_panes_when_its_choices_change_and_undoes_ranges() {
        let mut s = ready_with_photos();
        assert_eq!((s.mix.a, s.mix.b), (Some(PhotoId(1)), Some(PhotoId(2))));
        assert!(
            s.requests().is_empty(),
            "no mix while the view is not shown"
        );
        s.dispatch(Action::SetView(View::Mix));
        let r = s.requests();
        assert!(
            matches!(&r[0], Request::Mix { a, b, layers, .. } if *a == PhotoId(1) && *b == PhotoId(2) && *layers == (0..4))
        );
        assert!(s.requests().is_empty(), "asked once");
        s.dispatch(Action::SetMixLayers(4..8));
        let r = s.requests();
        let id = match &r[0] {
            Request::Mix { layers, id, .. } => {
                assert_eq!(*layers, 4..8);
                *id
            }
            other => panic!("{other:?}"),
        };
        s.dispatch(Action::SetMixLayers(0..99));
        assert_eq!(s.mix.layers, 4..8, "a range past the w+ entries is refused");
        let mixed = |id| MixFrames {
            id,
            a: PhotoId(1),
            b: PhotoId(2),
            panes: [frame(id), frame(id), frame(id), frame(id)],
            style_mix: frame(id),
            layers: 4..8,
        };
        s.apply(Event::Mixed(Box::new(mixed(id - 1))));
        assert!(s.mix.frames.is_none(), "a stale mix is dropped");
        s.apply(Event::Mixed(Box::new(mixed(id))));
        assert!(s.mix.frames.is_some());
        s.dispatch(Action::Undo);
        assert_eq!(s.mix.layers, 0..4);
        s.dispatch(Action::MixPick {
            slot: MixSlot::B,
            photo: PhotoId(1),
        });
        assert!(matches!(&s.requests()[0], Request::Mix { b, .. } if *b == PhotoId(1)));
        // closing a mixed photo empties its slot
        s.apply(Event::PhotoClosed(PhotoId(1)));
        assert_eq!((s.mix.a, s.mix.b), (None, None));
        assert_eq!(s.selected, Some(PhotoId(2)));
    }

    #[test]
    fn personalization_progress_cancel_and_badges() {
        let mut s = ready_with_photos();
        let effects = s.dispatch(Action::Personalize(vec![PhotoId(2)]));
        let cancel = match &effects[0] {
            Effect::Send(Request::Personalize { photos, cancel, .. }) => {
                assert_eq!(photos, &vec![PhotoId(2)]);
                cancel.clone()
            }
            other => panic!("{other:?}"),
        };
        assert!(
            s.dispatch(Action::Personalize(vec![PhotoId(1)])).is_empty(),
            "one job at a time"
        );
        s.dispatch(Action::CancelPersonalize);
        assert!(cancel.is_cancelled());
        s.apply(Event::Unpersonalized(vec![PhotoId(2)]));
        assert!(s.tuning.is_none());
        s.dispatch(Action::Personalize(vec![PhotoId(2)]));
        s.apply(Event::Personalized {
            photos: vec![PhotoId(2)],
            steps: 350,
            seconds: 10.0,
            perceptual: "none".into(),
        });
        assert!(s.photo(PhotoId(2)).unwrap().personalized.is_some());
        assert!(s.photo(PhotoId(1)).unwrap().personalized.is_none());
        let mut v = view(2, "b.jpg");
        v.personalized = true;
        s.apply(Event::Photo(Box::new(v)));
        assert!(s.photo(PhotoId(2)).unwrap().personalized.is_some());
        s.apply(Event::Photo(Box::new(view(2, "b.jpg"))));
        assert!(
            s.photo(PhotoId(2)).unwrap().personalized.is_none(),
            "reverted"
        );
    }

    /// One slider drag of the selected photo to `value`.
    fn drag(s: &mut EditorState, index: usize, value: f32) {
        s.dispatch(Action::SetSlider { index, value });
        s.dispatch(Action::EndGesture);
    }

    fn personalized(photo: u64) -> Event {
        Event::Personalized {
            photos: vec![PhotoId(photo)],
            steps: 350,
            seconds: 10.0,
            perceptual: "none".into(),
        }
    }

    fn sent(effects: &[Effect]) -> Vec<&Request> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Send(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn personalizing_and_reverting_are_undone_without_tuning_again() {
        let mut s = ready_with_photos();
        s.dispatch(Action::Personalize(vec![PhotoId(2)]));
        s.apply(personalized(2));
        // undo of the finished tuning reverts; redo puts the tuned generator back
        let undo = s.dispatch(Action::Undo);
        assert!(matches!(sent(&undo)[..], [Request::Revert(PhotoId(2))]));
        s.apply(Event::Unpersonalized(vec![PhotoId(2)]));
        assert!(s.photo(PhotoId(2)).unwrap().personalized.is_none());
        let redo = s.dispatch(Action::Redo);
        assert!(matches!(sent(&redo)[..], [Request::Restore(PhotoId(2))]));
        // a restore is not a new undo step (nothing to redo is lost, no tuning is running)
        s.apply(personalized(2));
        assert!(s.tuning.is_none() && !s.can_redo());
        // a revert by hand is undone by a restore
        let revert = s.dispatch(Action::Revert(PhotoId(2)));
        assert!(matches!(sent(&revert)[..], [Request::Revert(PhotoId(2))]));
        s.apply(Event::Unpersonalized(vec![PhotoId(2)]));
        let undo = s.dispatch(Action::Undo);
        assert!(matches!(sent(&undo)[..], [Request::Restore(PhotoId(2))]));
        // reverting a photo that is not personalized does nothing
        assert!(s.dispatch(Action::Revert(PhotoId(1))).is_empty());
    }

    #[test]
    fn a_set_change_is_undone_with_the_slider_values_it_replaced() {
        let mut s = ready_with_photos();
        drag(&mut s, 1, 2.0);
        s.dispatch(Action::LoadDirections("other.safetensors".into()));
        s.apply(Event::Directions {
            infos: vec![direction("pose"); 3],
            label: "other".into(),
            set: 2,
        });
        assert_eq!(s.photo(PhotoId(2)).unwrap().sliders, vec![0.0; 3]);
        drag(&mut s, 0, 1.0);
        // undo: the slider move, then the set change (the engine brings set 1 back)
        s.dispatch(Action::Undo);
        assert_eq!(s.photo(PhotoId(2)).unwrap().sliders, vec![0.0; 3]);
        let undo = s.dispatch(Action::Undo);
        assert!(matches!(sent(&undo)[..], [Request::UseDirections(1)]));
        s.apply(Event::Directions {
            infos: vec![direction("smile"), direction("age")],
            label: "set".into(),
            set: 1,
        });
        assert_eq!(s.directions.len(), 2);
        assert_eq!(s.photo(PhotoId(2)).unwrap().sliders, vec![0.0, 2.0]);
        assert_eq!(s.photo(PhotoId(1)).unwrap().sliders, vec![0.0, 0.0]);
        let e = edits(&s.requests());
        assert!(
            e.iter()
                .any(|(p, v, _)| *p == PhotoId(2) && *v == vec![0.0, 2.0]),
            "the restored values are drawn: {e:?}"
        );
        // redo: set 2 again, its sliders at 0
        let redo = s.dispatch(Action::Redo);
        assert!(matches!(sent(&redo)[..], [Request::UseDirections(2)]));
        s.apply(Event::Directions {
            infos: vec![direction("pose"); 3],
            label: "other".into(),
            set: 2,
        });
        assert_eq!(s.photo(PhotoId(2)).unwrap().sliders, vec![0.0; 3]);
        // a set that arrives without being asked for (a session, a model) is not a step
        s.apply(Event::Directions {
            infos: vec![direction("x")],
            label: "session".into(),
            set: 3,
        });
        let undo = s.dispatch(Action::Undo);
        assert!(matches!(sent(&undo)[..], [Request::UseDirections(1)]));
    }

    #[test]
    fn errors_are_kept_in_a_log_and_without_a_model_the_editor_waits() {
        let mut s = EditorState::new(vec!["p.jpg".into()]);
        s.apply(Event::Error(
            "the bundled model is in none of the weights folders".into(),
        ));
        assert_eq!(s.status, EngineStatus::NoModel);
        assert!(s.requests().is_empty());
        s.apply(Event::Error("second".into()));
        assert_eq!(s.errors.len(), 2, "the first error is not overwritten");
        s.apply(Event::Ready {
            device: "cpu".into(),
            origin: ModelOrigin::File("g.safetensors".into()),
            config: GeneratorConfig::stylegan2(64, 64, 2, 1),
        });
        assert!(
            matches!(&s.requests()[0], Request::OpenPhotos(p) if p == &vec![PathBuf::from("p.jpg")])
        );
        assert_eq!(s.opening, 1);
        // an unrelated error does not end the wait for the photo; its own failure does
        s.apply(Event::Error("a slider failed".into()));
        assert_eq!(s.opening, 1);
        s.apply(Event::PhotoFailed("p.jpg: not an image".into()));
        assert_eq!(s.opening, 0);
        assert_eq!(s.errors.last().unwrap(), "p.jpg: not an image");
        s.dispatch(Action::DismissErrors);
        assert!(s.errors.is_empty());
    }

    #[test]
    fn a_stopped_engine_is_said_and_a_restart_opens_the_photos_again() {
        let mut s = ready_with_photos();
        s.engine_stopped();
        assert_eq!(s.status, EngineStatus::Stopped);
        assert!(s.errors.last().unwrap().contains("Restart engine"));
        s.dispatch(Action::SetSeed(9));
        s.dispatch(Action::SetView(View::Random));
        assert!(s.requests().is_empty(), "no requests to a stopped engine");
        s.engine_restarted();
        s.apply(Event::Ready {
            device: "cpu".into(),
            origin: ModelOrigin::File("g.safetensors".into()),
            config: GeneratorConfig::stylegan2(64, 64, 2, 1),
        });
        let r = s.requests();
        assert!(
            matches!(&r[0], Request::OpenPhotos(p) if p == &vec![PathBuf::from("a.jpg"), PathBuf::from("b.jpg")])
        );
        assert!(r.iter().any(|r| matches!(r, Request::Render { .. })));
    }
}
