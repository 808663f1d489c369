//! One node's block bodies and undo records as an append-only file in the origin private file
//! system (OPFS), read and written synchronously.
//!
//! # Why a file, and why synchronous
//! The chain asks for a body in the middle of a step (a reorganisation disconnects a block,
//! a peer asks for one) and cannot wait: node-core's [`node_core::chain::BodySource`] is
//! synchronous. IndexedDB only answers asynchronously; a `FileSystemSyncAccessHandle` reads
//! and writes at an offset at once, and exists in dedicated workers, where the node runs
//! (www/node-worker.js). The handle is exclusive: the Web Lock that makes one worker the
//! owner of a node id (see node-worker.js) also makes it the only one to open its file.
//!
//! Where no such handle can be had (the node on a page's thread, as in some tests, or a
//! browser without OPFS) the file lives in wasm memory for this session only: the journal
//! then names bodies a reload will not find, so the reload downloads the chain again.
//!
//! # Layout
//! Records are appended one after another; nothing in the file says where one starts. The
//! chain journal in IndexedDB keeps each record's [`Span`], and a record's bytes are
//! written and flushed before the journal record naming it commits, so a journal never
//! names bytes that are not on disk. Bytes past what the journal names (a write whose
//! journal record never committed) are garbage, overwritten by the next append after a
//! load ([`BodyFile::set_end`]).
//!
//! # Durability
//! Appended records wait in memory (readable at once) and are written to the file together
//! before the journal record naming them is created ([`BodyFile::write_out`]): one file
//! access per journal write, not two per block (each access cost tens of microseconds
//! here, a 10,000-block download's worth about a second). Written, they are in the file
//! (the system's cache of it), so a closed or crashed tab or browser never leaves a journal
//! record naming bytes that are not there. The file is not forced to the disk on every
//! write (`flush`, an fsync, took ~25 ms here): like IndexedDB's commits at Chrome's default
//! "relaxed" durability, the newest writes of both may be lost if the whole system stops.
//! It is flushed when the node closes and before a compaction names everything in it.

use std::cell::{Cell, RefCell};

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    FileSystemDirectoryHandle, FileSystemFileHandle, FileSystemGetFileOptions,
    FileSystemReadWriteOptions, FileSystemSyncAccessHandle,
};

use crate::error::{js_message, NodeError};

/// Where a record lies in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Span {
    /// Its first byte.
    pub offset: u64,
    /// Its length in bytes.
    pub len: u32,
}

impl Span {
    /// The offset just past it.
    pub fn end(&self) -> u64 {
        self.offset.saturating_add(u64::from(self.len))
    }
}

/// Where the bytes live.
enum Backing {
    /// A file of the origin private file system.
    Opfs(FileSystemSyncAccessHandle),
    /// Wasm memory, for this session only: tests of storage on a page's thread (feature
    /// `memory-bodies`, which only the tests enable).
    #[cfg(feature = "memory-bodies")]
    Memory(RefCell<Vec<u8>>),
}

/// See the module docs.
pub struct BodyFile {
    backing: Backing,
    /// Bytes in the file: records up to here were written to it.
    on_file: Cell<u64>,
    /// Records appended and not yet written: they follow `on_file`. Each file access costs
    /// tens of microseconds, so records are written together, once per journal write
    /// ([`BodyFile::write_out`]), rather than one by one.
    pending: RefCell<Vec<u8>>,
    /// Closed ([`BodyFile::close`]): nothing is read or written any more.
    closed: Cell<bool>,
}

/// Opening a file another handle still holds fails; a node restarting in this tab closes
/// its old handle first, but give it a moment (`OPEN_ATTEMPTS` × `OPEN_RETRY_MS`).
const OPEN_ATTEMPTS: u32 = 20;
const OPEN_RETRY_MS: u32 = 150;
/// Pending records are written out once they reach this size, whatever the journal does:
/// a bound on the memory they hold.
const PENDING_MAX_BYTES: usize = 4 << 20;

impl BodyFile {
    /// Opens (creating if needed) the file `name` of the origin private file system. Where
    /// this browser or thread has no sync access handles the node cannot keep a chain: an
    /// error (with `memory-bodies`, tests get a file in memory instead, and the reason as
    /// the second value). A file that exists but cannot be opened (still held by a node
    /// closing in this tab) is an error too: the stored chain must not be taken for lost.
    pub async fn open(name: &str) -> Result<(BodyFile, Option<String>), NodeError> {
        let no_sync_access = "this browser gives workers no synchronous file access: no body file";
        let Some(file) = file_handle(name).await? else {
            #[cfg(feature = "memory-bodies")]
            return Ok((BodyFile::in_memory(), Some(no_sync_access.into())));
            #[cfg(not(feature = "memory-bodies"))]
            return Err(NodeError::Browser(no_sync_access.into()));
        };
        let mut last = JsValue::UNDEFINED;
        for _ in 0..OPEN_ATTEMPTS {
            match JsFuture::from(file.create_sync_access_handle()).await {
                Ok(handle) => {
                    let handle: FileSystemSyncAccessHandle = handle.unchecked_into();
                    let size = handle.get_size().map_or(0, |s| s as u64);
                    return Ok((BodyFile::over(Backing::Opfs(handle), size), None));
                }
                Err(e) => last = e,
            }
            gloo_timers::future::TimeoutFuture::new(OPEN_RETRY_MS).await;
        }
        Err(NodeError::Storage(format!(
            "body file {name}: {}",
            js_message(&last)
        )))
    }

    /// A file in wasm memory, for this session only (tests).
    #[cfg(feature = "memory-bodies")]
    pub fn in_memory() -> BodyFile {
        BodyFile::over(Backing::Memory(RefCell::default()), 0)
    }

    fn over(backing: Backing, size: u64) -> BodyFile {
        BodyFile {
            backing,
            on_file: Cell::new(size),
            pending: RefCell::default(),
            closed: Cell::new(false),
        }
    }

    /// Where the next record will go: the file's size at open, or after the last append.
    pub fn end(&self) -> u64 {
        self.on_file.get() + self.pending.borrow().len() as u64
    }

    /// Appends are made from `end` on: a load sets it just past the last record its journal
    /// names, so bytes no journal record names are overwritten rather than kept.
    pub fn set_end(&self, end: u64) -> Result<(), NodeError> {
        // Past the bytes there are, later records would not land where their spans say.
        if end > self.end() {
            return Err(NodeError::Storage(
                "body file: an end past its bytes".into(),
            ));
        }
        self.write_out()?;
        self.on_file.set(end);
        Ok(())
    }

    /// Appends `bytes` as one record. It is readable at once and written to the file with
    /// the next [`BodyFile::write_out`].
    pub fn append(&self, bytes: &[u8]) -> Result<Span, NodeError> {
        if self.closed.get() {
            return Err(NodeError::Closed);
        }
        let len = u32::try_from(bytes.len())
            .map_err(|_| NodeError::Storage("a body record over 4 GiB".into()))?;
        let span = Span {
            offset: self.end(),
            len,
        };
        let full = {
            let mut pending = self.pending.borrow_mut();
            pending.extend_from_slice(bytes);
            pending.len() >= PENDING_MAX_BYTES
        };
        if full {
            self.write_out()?;
        }
        Ok(span)
    }

    /// Writes the pending records to the file, in one access: before a journal record
    /// naming them is created.
    pub fn write_out(&self) -> Result<(), NodeError> {
        let mut pending = self.pending.borrow_mut();
        if pending.is_empty() {
            return Ok(());
        }
        if self.closed.get() {
            return Err(NodeError::Closed);
        }
        let at = self.on_file.get();
        match &self.backing {
            Backing::Opfs(handle) => {
                let options = FileSystemReadWriteOptions::new();
                options.set_at(at as f64);
                let written = handle
                    .write_with_u8_array_and_options(&pending, &options)
                    .map_err(failed)?;
                if written as usize != pending.len() {
                    return Err(NodeError::Storage(format!(
                        "body file: wrote {} of {} bytes (disk full?)",
                        written as usize,
                        pending.len()
                    )));
                }
            }
            #[cfg(feature = "memory-bodies")]
            Backing::Memory(v) => {
                let mut v = v.borrow_mut();
                v.truncate(at as usize);
                v.extend_from_slice(&pending);
            }
        }
        self.on_file.set(at + pending.len() as u64);
        pending.clear();
        Ok(())
    }

    /// Writes the pending records and forces the file to the disk (see the module docs on
    /// durability).
    pub fn flush(&self) -> Result<(), NodeError> {
        self.write_out()?;
        match &self.backing {
            Backing::Opfs(handle) if !self.closed.get() => handle.flush().map_err(failed),
            _ => Ok(()),
        }
    }

    /// The bytes of `span`, or `None` if the file does not hold all of them.
    pub fn read(&self, span: Span) -> Option<Vec<u8>> {
        let on_file = self.on_file.get();
        if span.end() > self.end() || self.closed.get() {
            return None;
        }
        if span.offset >= on_file {
            let start = usize::try_from(span.offset - on_file).ok()?;
            let pending = self.pending.borrow();
            return Some(
                pending
                    .get(start..start.checked_add(span.len as usize)?)?
                    .to_vec(),
            );
        }
        if span.end() > on_file {
            return None; // straddles: never appended so
        }
        let mut buf = vec![0u8; span.len as usize];
        match &self.backing {
            Backing::Opfs(handle) => {
                let options = FileSystemReadWriteOptions::new();
                options.set_at(span.offset as f64);
                let read = handle
                    .read_with_u8_array_and_options(&mut buf, &options)
                    .ok()?;
                (read as usize == buf.len()).then_some(buf)
            }
            #[cfg(feature = "memory-bodies")]
            Backing::Memory(v) => {
                let v = v.borrow();
                let start = usize::try_from(span.offset).ok()?;
                let len = buf.len();
                buf.copy_from_slice(v.get(start..start.checked_add(len)?)?);
                Some(buf)
            }
        }
    }

    /// Empties the file (a journal that was cleared names nothing in it).
    pub fn clear(&self) -> Result<(), NodeError> {
        self.pending.borrow_mut().clear();
        match &self.backing {
            Backing::Opfs(handle) => handle.truncate_with_f64(0.0).map_err(failed)?,
            #[cfg(feature = "memory-bodies")]
            Backing::Memory(v) => v.borrow_mut().clear(),
        }
        self.on_file.set(0);
        Ok(())
    }
}

impl BodyFile {
    /// Releases the file, so that a node started again in this worker can open it: every
    /// later read finds nothing and every append fails.
    pub fn close(&self) {
        if self.closed.get() {
            return;
        }
        let _ = self.flush();
        self.closed.set(true);
        match &self.backing {
            Backing::Opfs(handle) => handle.close(),
            #[cfg(feature = "memory-bodies")]
            Backing::Memory(_) => {}
        }
    }
}

impl Drop for BodyFile {
    fn drop(&mut self) {
        self.close();
    }
}

/// A failed file access, as the node reports it.
fn failed(e: JsValue) -> NodeError {
    NodeError::Storage(format!("body file: {}", js_message(&e)))
}

/// The handle of file `name` in the origin private file system, if this thread can open it
/// for synchronous access (only dedicated workers can); an error if it should and cannot.
async fn file_handle(name: &str) -> Result<Option<FileSystemFileHandle>, NodeError> {
    let Some(storage) = crate::global_scope::storage_manager() else {
        return Ok(None);
    };
    let dir: FileSystemDirectoryHandle = JsFuture::from(storage.get_directory())
        .await
        .map_err(failed)?
        .unchecked_into();
    let create = FileSystemGetFileOptions::new();
    create.set_create(true);
    let file = match JsFuture::from(dir.get_file_handle_with_options(name, &create)).await {
        Ok(file) => file,
        // Something else under that name (damage, or edits with developer tools) would
        // stop the node from starting at all: it names no body of ours, so it goes, and
        // the journal, which named bodies in it, is found wanting and cleared.
        Err(_) => {
            let all = web_sys::FileSystemRemoveOptions::new();
            all.set_recursive(true);
            let _ = JsFuture::from(dir.remove_entry_with_options(name, &all)).await;
            JsFuture::from(dir.get_file_handle_with_options(name, &create))
                .await
                .map_err(failed)?
        }
    };
    let file: FileSystemFileHandle = file.unchecked_into();
    let sync = js_sys::Reflect::has(&file, &"createSyncAccessHandle".into()).unwrap_or(false);
    Ok(sync.then_some(file))
}
