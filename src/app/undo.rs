//! Undo and redo of the editor's changes: each entry holds the values before and after, so
//! undoing applies `before` and redoing applies `after`.

use std::ops::Range;
use std::path::PathBuf;

use crate::workspace::PhotoId;

/// One undoable change.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A photo's slider values (one drag, one reset, "Reset all").
    Sliders {
        photo: PhotoId,
        before: Vec<f32>,
        after: Vec<f32>,
    },
    /// The Mix view's layer range.
    MixLayers {
        before: Range<usize>,
        after: Range<usize>,
    },
    /// A photo closed (`open` false) or opened again (`open` true): its file, face and sliders.
    Photo {
        path: PathBuf,
        face: usize,
        sliders: Vec<f32>,
        open: bool,
    },
    /// Another direction set made active: the engine's id of each set and every photo's
    /// slider values under it.
    Directions { before: SetValues, after: SetValues },
    /// A photo personalized (`tuned`) or reverted to the base generator (with the photos
    /// tuned together with it).
    Personalization { photo: PhotoId, tuned: bool },
}

/// A direction set (by the engine's id) and the photos' slider values under it.
#[derive(Debug, Clone, PartialEq)]
pub struct SetValues {
    pub set: u64,
    pub sliders: Vec<(PhotoId, Vec<f32>)>,
}

impl Change {
    /// The change that undoes this one.
    pub fn inverse(&self) -> Change {
        match self.clone() {
            Change::Sliders {
                photo,
                before,
                after,
            } => Change::Sliders {
                photo,
                before: after,
                after: before,
            },
            Change::MixLayers { before, after } => Change::MixLayers {
                before: after,
                after: before,
            },
            Change::Photo {
                path,
                face,
                sliders,
                open,
            } => Change::Photo {
                path,
                face,
                sliders,
                open: !open,
            },
            Change::Directions { before, after } => Change::Directions {
                before: after,
                after: before,
            },
            Change::Personalization { photo, tuned } => Change::Personalization {
                photo,
                tuned: !tuned,
            },
        }
    }
}

#[derive(Debug, Default)]
pub struct UndoStack {
    done: Vec<Change>,
    undone: Vec<Change>,
}

impl UndoStack {
    /// Records a change just made; what was undone before can no longer be redone.
    pub fn push(&mut self, change: Change) {
        self.done.push(change);
        self.undone.clear();
    }

    /// The change to apply to undo the last one.
    pub fn undo(&mut self) -> Option<Change> {
        let c = self.done.pop()?;
        let inverse = c.inverse();
        self.undone.push(c);
        Some(inverse)
    }

    /// The change to apply to redo the last undone one.
    pub fn redo(&mut self) -> Option<Change> {
        let c = self.undone.pop()?;
        self.done.push(c.clone());
        Some(c)
    }

    pub fn can_undo(&self) -> bool {
        !self.done.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.undone.is_empty()
    }

    /// Drops the changes of a closed photo (they cannot be applied any more).
    pub fn forget_photo(&mut self, id: PhotoId) {
        let keep = |c: &Change| {
            !matches!(c, Change::Sliders { photo, .. } | Change::Personalization { photo, .. }
                if *photo == id)
        };
        self.done.retain(keep);
        self.undone.retain(keep);
    }
}
