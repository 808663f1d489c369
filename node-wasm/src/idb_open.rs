//! Opening an IndexedDB database at a schema version, its upgrade run on web-sys.
//!
//! indexed_db_futures can run the upgrade itself (`with_on_upgrade_needed`), but its
//! listener formats a failed upgrade's error with `Display`, and one variant of that error
//! (`SimpleValueError::TooLarge(f64)`) links all of Rust's float formatting into the page's
//! module: 9 KB of its 200 KB gzipped budget (BENCHMARKS.md). So [`open`] runs the upgrade
//! on the browser's objects directly, closes that connection, and opens the database again
//! through indexed_db_futures at the version now current, which needs no upgrade.

use std::cell::RefCell;
use std::rc::Rc;

use indexed_db_futures::database::Database;
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbFactory};

use crate::error::{idb_open_error_text, js_message, NodeError};

/// A schema upgrade: brings the database (at any older version, or new) to the current one.
pub type Upgrade = fn(&IdbDatabase) -> Result<(), JsValue>;

/// Opens `name`, first upgrading it to `version` with `upgrade` if it is older (or new).
/// A failed upgrade aborts the open: the database stays as it was.
pub async fn open(name: &str, version: u32, upgrade: Upgrade) -> Result<Database, NodeError> {
    let storage = |e: &JsValue| NodeError::Storage(js_message(e));
    let factory: IdbFactory = Reflect::get(&js_sys::global(), &JsValue::from_str("indexedDB"))
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(|| NodeError::Storage("IndexedDB is not available here".into()))?;
    let request = factory
        .open_with_u32(name, version)
        .map_err(|e| storage(&e))?;
    let failure: Rc<RefCell<Option<String>>> = Rc::default();
    let on_upgrade = {
        let (request, failure) = (request.clone(), failure.clone());
        Closure::<dyn FnMut()>::new(move || {
            let result = request
                .result()
                .and_then(|db| db.dyn_into::<IdbDatabase>())
                .and_then(|db| upgrade(&db));
            if let Err(e) = result {
                *failure.borrow_mut() = Some(js_message(&e));
                if let Some(tx) = request.transaction() {
                    // Aborting the version change fails the open with an `AbortError`.
                    let _ = tx.abort();
                }
            }
        })
    };
    request.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
    let done = Promise::new(&mut |resolve: Function, reject: Function| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
    });
    let outcome = JsFuture::from(done).await;
    request.set_onupgradeneeded(None);
    request.set_onsuccess(None);
    request.set_onerror(None);
    drop(on_upgrade);
    if let Some(why) = failure.borrow_mut().take() {
        return Err(NodeError::Storage(format!("upgrading {name}: {why}")));
    }
    if outcome.is_err() {
        let why = match request.error() {
            Ok(Some(e)) => e.message(),
            _ => "the browser refused to open it".into(),
        };
        return Err(NodeError::Storage(format!("opening {name}: {why}")));
    }
    if let Some(db) = request
        .result()
        .ok()
        .and_then(|db| db.dyn_into::<IdbDatabase>().ok())
    {
        db.close();
    }
    Database::open(name)
        .await
        .map_err(|e| NodeError::Storage(idb_open_error_text(&e)))
}
