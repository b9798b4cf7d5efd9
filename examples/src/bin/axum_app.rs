//! An axum application served on tulip (not in asyncio's documentation:
//! the Rust ecosystem on the loop): a small notes service whose unmodified
//! axum [`Router`] is served by [`tulip::hyper::serve`] over HTTP/1.1 and
//! HTTP/2 (prior knowledge, h2c) on one port.
//!
//! ```text
//! axum_app        # serve 127.0.0.1:8888 until Ctrl-C
//! ```
//!
//! | request | answer |
//! | --- | --- |
//! | `GET /` | `200`, a line of text saying what this is |
//! | `GET /notes` | `200`, every note as JSON: `[{"id":1,"text":"..."}]` |
//! | `POST /notes` with `{"text":"..."}` | `201`, the new note as JSON, with its id |
//! | `GET /notes/{id}` | `200` and the note as JSON; `404` and `{"error":"..."}` if there is none |
//! | anything else | axum's answers: `404`, `405`, and `400`/`415`/`422` for a bad body or id |
//!
//! ```text
//! $ curl -d '{"text":"buy milk"}' -H 'content-type: application/json' http://127.0.0.1:8888/notes
//! {"id":1,"text":"buy milk"}
//! $ curl http://127.0.0.1:8888/notes/1
//! {"id":1,"text":"buy milk"}
//! ```
//!
//! ## The shared state: `Arc<Mutex<..>>`, on a single-threaded loop
//!
//! tulip runs every handler on one thread, so an `Rc<RefCell<..>>` would
//! do; but axum 0.8 does not accept it: `Router::with_state` requires the
//! state to be `Clone + Send + Sync + 'static`, and a handler's future to
//! be `Send`, whatever runtime serves the router. So the notes live in an
//! `Arc<std::sync::Mutex<..>>`: the simplest type that meets the bounds.
//! On tulip the lock is never contended (one thread), so taking it is one
//! atomic operation; it is a plain (not an async) mutex because no handler
//! holds it across an `.await`.
//!
//! ## Ctrl-C
//!
//! The server shuts down gracefully on Ctrl-C (SIGINT): it stops
//! accepting, lets the requests in flight finish, prints `shut down` and
//! exits 0. The SIGINT handler removes itself when it fires, so a second
//! Ctrl-C falls back to `tulip::run`'s own (which cancels the server at
//! once).
//!
//! The port is 8888 unless `TULIP_EXAMPLE_PORT` names another (`0`: any
//! free port, printed in the first line: `serving on http://127.0.0.1:PORT`).

use std::collections::BTreeMap;
use std::error::Error;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tulip::net::TcpListener;
use tulip::prelude::*;

/// The port of the server.
const DEFAULT_PORT: u16 = 8888;

/// A note, as stored and as sent back.
#[derive(Debug, Clone, Serialize)]
struct Note {
    id: u64,
    text: String,
}

/// The body of `POST /notes`.
#[derive(Debug, Deserialize)]
struct NewNote {
    text: String,
}

/// The notes, shared by every request on every connection.
#[derive(Debug, Default)]
struct Notes {
    /// The id of the next note.
    next_id: u64,
    /// The notes by id (in id order, for `GET /notes`).
    by_id: BTreeMap<u64, Note>,
}

/// The router's state: a handle on the notes (see the module doc for why
/// it is an `Arc<Mutex<..>>`).
#[derive(Debug, Clone, Default)]
struct AppState {
    notes: Arc<Mutex<Notes>>,
}

impl AppState {
    /// The notes, locked. A handler that panicked while holding the lock
    /// left them whole (no handler panics halfway through a change), so a
    /// poisoned lock is taken as it is.
    fn notes(&self) -> MutexGuard<'_, Notes> {
        self.notes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `GET /`.
async fn index() -> &'static str {
    "notes on axum, served by tulip: GET/POST /notes, GET /notes/{id}\n"
}

/// `GET /notes`: every note.
async fn list_notes(State(state): State<AppState>) -> Json<Vec<Note>> {
    Json(state.notes().by_id.values().cloned().collect())
}

/// `POST /notes`: a new note, from a JSON body.
async fn create_note(
    State(state): State<AppState>,
    Json(new): Json<NewNote>,
) -> (StatusCode, Json<Note>) {
    let mut notes = state.notes();
    notes.next_id += 1;
    let note = Note {
        id: notes.next_id,
        text: new.text,
    };
    notes.by_id.insert(note.id, note.clone());
    (StatusCode::CREATED, Json(note))
}

/// `GET /notes/{id}`: one note, or a JSON error.
async fn get_note(State(state): State<AppState>, Path(id): Path<u64>) -> Response {
    match state.notes().by_id.get(&id) {
        Some(note) => Json(note.clone()).into_response(),
        None => {
            let error = serde_json::json!({ "error": format!("no note {id}") });
            (StatusCode::NOT_FOUND, Json(error)).into_response()
        }
    }
}

/// The application: routes and their shared state.
fn app() -> Router {
    Router::new()
        .route("/", get(index))
        .route("/notes", get(list_notes).post(create_note))
        .route("/notes/{id}", get(get_note))
        .with_state(AppState::default())
}

/// Serves [`app`] until Ctrl-C, then shuts down gracefully.
async fn main_task() -> Result<(), Box<dyn Error>> {
    // Ctrl-C sets `ctrl_c`; the handler is set before the server says it
    // is up, so a Ctrl-C from then on is a graceful one.
    let lp = get_running_loop()?;
    let ctrl_c = lp.create_future::<()>();
    let (fired, handlers) = (ctrl_c.clone(), lp.clone());
    lp.add_signal_handler(tulip::signal::SIGINT, move || {
        let _ = fired.set_result(());
        handlers.remove_signal_handler(tulip::signal::SIGINT);
    })?;

    let listener = TcpListener::bind("127.0.0.1", port()?).await?;
    println!("serving on http://{}", listener.local_addr()?);
    tulip::hyper::serve(listener, app())
        .with_graceful_shutdown(ctrl_c)
        .await?;
    println!("shut down");
    Ok(())
}

fn main() -> ExitCode {
    let error: Box<dyn Error> = match tulip::run(main_task()) {
        // A second Ctrl-C cancels the server: still a normal end.
        Ok(Ok(())) | Err(tulip::Error::Interrupted) => return ExitCode::SUCCESS,
        Ok(Err(e)) => e,
        Err(e) => e.into(),
    };
    eprintln!("axum_app: {error}");
    ExitCode::FAILURE
}

/// The port: 8888, or the one `TULIP_EXAMPLE_PORT` names (the tests use
/// `0`, a free port).
fn port() -> Result<u16, String> {
    match std::env::var("TULIP_EXAMPLE_PORT").as_deref() {
        Err(_) | Ok("") => Ok(DEFAULT_PORT),
        Ok(p) => p
            .parse()
            .map_err(|_| format!("TULIP_EXAMPLE_PORT={p:?} is not a port number")),
    }
}
