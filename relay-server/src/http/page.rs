//! The page: from the files embedded at build time (`build.rs`), or from a directory given
//! with `--www` (for working on the page without rebuilding the relay).
//!
//! The embedded copy is what makes the binary one file to deploy; its content is fixed when
//! the relay is built, so a binary never serves another checkout's page. A binary built
//! before the wasm modules were serves a short page saying how to fix that instead of a page
//! that fails on load.

use std::path::PathBuf;

use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::services::ServeDir;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/page_files.rs"));
}

/// Where the page comes from.
#[derive(Debug, Clone)]
pub enum PageSource {
    /// The files embedded in this binary.
    Embedded,
    /// A directory (`--www`).
    Dir(PathBuf),
}

impl PageSource {
    /// `--www DIR` if given, else the embedded page.
    pub fn from_option(www: Option<PathBuf>) -> Self {
        www.map_or(PageSource::Embedded, PageSource::Dir)
    }

    /// What is wrong with this page, for a warning at start: `None` when it looks whole.
    pub fn problem(&self) -> Option<String> {
        match self {
            PageSource::Embedded if !embedded::PAGE_MISSING.is_empty() => Some(format!(
                "this relay-server was built without its page's {}: run \
                 `bash scripts/build-wasm.sh`, then build relay-server again",
                embedded::PAGE_MISSING.join(", ")
            )),
            PageSource::Embedded => None,
            PageSource::Dir(dir) if !dir.is_dir() => Some(format!(
                "page directory {} does not exist; only the protocol is served",
                dir.display()
            )),
            PageSource::Dir(_) => None,
        }
    }

    /// Where the page comes from, for the start banner.
    pub fn describe(&self) -> String {
        match self {
            PageSource::Embedded => "this binary".into(),
            PageSource::Dir(dir) => dir.display().to_string(),
        }
    }

    /// `router` with this page as its fallback.
    pub fn serve<S: Clone + Send + Sync + 'static>(&self, router: Router<S>) -> Router<S> {
        match self {
            PageSource::Embedded => router.fallback(embedded_file),
            PageSource::Dir(dir) => {
                router.fallback_service(ServeDir::new(dir).append_index_html_on_directories(true))
            }
        }
    }
}

/// One embedded file by its path, `index.html` for a directory.
async fn embedded_file(method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let mut path = uri.path().trim_start_matches('/').to_string();
    if path.is_empty() || path.ends_with('/') {
        path += "index.html";
    }
    if path == "index.html" && !embedded::PAGE_MISSING.is_empty() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            incomplete_page(),
        )
            .into_response();
    }
    match embedded_bytes(&path) {
        Some(bytes) => {
            let content_type = HeaderValue::from_static(content_type(&path));
            let body = if method == Method::HEAD {
                &[][..]
            } else {
                bytes
            };
            ([(header::CONTENT_TYPE, content_type)], body).into_response()
        }
        None => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

/// The embedded file at `path` (under `www/`), if there is one.
pub fn embedded_bytes(path: &str) -> Option<&'static [u8]> {
    embedded::PAGE_FILES
        .binary_search_by(|(name, _)| (*name).cmp(path))
        .ok()
        .map(|i| embedded::PAGE_FILES[i].1)
}

/// The page served in place of one built without its wasm: what happened and what to run.
fn incomplete_page() -> String {
    format!(
        "<!doctype html><meta charset=utf-8><title>relay-server: page not built</title>\n\
         <h1>This relay was built without its page</h1>\n\
         <p>These files were missing when <code>relay-server</code> was built: {}.</p>\n\
         <p>Build them with <code>bash scripts/build-wasm.sh</code>, then build relay-server \
         again (<code>cargo build --release -p relay-server</code>). The relay itself works: \
         other relays and the command line can use it.</p>\n",
        embedded::PAGE_MISSING.join(", ")
    )
}

/// The content type of a page file, by its extension.
fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") | Some("mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("txt") | Some("ts") | Some("md") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_so_lookups_find_every_file() {
        for (name, bytes) in embedded::PAGE_FILES {
            assert_eq!(embedded_bytes(name), Some(*bytes), "{name}");
        }
        assert_eq!(embedded_bytes("../Cargo.toml"), None);
    }
}
