//! The live sessions of this process: exactly one driver task — and so one long poll — per chat.

use std::collections::HashMap;
use std::sync::Mutex;

use switchboard_core::session::StateKind;
use tokio::sync::{mpsc, watch};

use crate::driver::Command;
use crate::store::ChatId;

/// How to reach a running driver.
#[derive(Debug, Clone)]
pub(crate) struct DriverHandle {
    pub(crate) commands: mpsc::Sender<Box<Command>>,
    pub(crate) state: watch::Receiver<StateKind>,
}

/// Chat id → running driver.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    drivers: Mutex<HashMap<ChatId, DriverHandle>>,
}

impl Registry {
    /// Registers a driver; `false` (and nothing changes) if the chat already has one.
    pub(crate) fn insert(&self, chat: ChatId, handle: DriverHandle) -> bool {
        let mut drivers = self.lock();
        if drivers.contains_key(&chat) {
            return false;
        }
        drivers.insert(chat, handle);
        true
    }

    pub(crate) fn get(&self, chat: &ChatId) -> Option<DriverHandle> {
        self.lock().get(chat).cloned()
    }

    pub(crate) fn remove(&self, chat: &ChatId) {
        self.lock().remove(chat);
    }

    pub(crate) fn chats(&self) -> Vec<(ChatId, StateKind)> {
        let mut chats: Vec<(ChatId, StateKind)> = self
            .lock()
            .iter()
            .map(|(chat, handle)| (chat.clone(), *handle.state.borrow()))
            .collect();
        chats.sort();
        chats
    }

    /// Takes out the drivers of the chats `which` picks.
    pub(crate) fn take(&self, which: impl Fn(&ChatId) -> bool) -> Vec<DriverHandle> {
        let mut drivers = self.lock();
        let chats: Vec<ChatId> = drivers.keys().filter(|c| which(c)).cloned().collect();
        chats
            .iter()
            .filter_map(|chat| drivers.remove(chat))
            .collect()
    }

    pub(crate) fn drain(&self) -> Vec<DriverHandle> {
        self.lock().drain().map(|(_, handle)| handle).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ChatId, DriverHandle>> {
        // A panic while holding this lock cannot leave the map inconsistent: recover it.
        self.drivers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
