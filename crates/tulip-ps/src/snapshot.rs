//! A loop's snapshot as `tulip-ps` reads it: the JSON a loop sends (see
//! the live process view in `tulip::graph`), parsed into plain structs.

use serde_json::Value;

/// One task of a snapshot.
#[derive(Clone, Debug)]
pub(crate) struct TaskRow {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) state: String,
    pub(crate) created_at: String,
    pub(crate) waiting_on: Option<String>,
    pub(crate) detail: Option<String>,
    pub(crate) awaited_by: Option<u64>,
    pub(crate) via: Option<String>,
}

impl TaskRow {
    /// What it waits on, with the detail: `sleep (1.200s left)`.
    pub(crate) fn waiting(&self) -> String {
        match (&self.waiting_on, &self.detail) {
            (Some(w), Some(d)) => format!("{w} ({d})"),
            (Some(w), None) => w.clone(),
            (None, _) => String::from("-"),
        }
    }
}

/// One loop's snapshot.
#[derive(Clone, Debug)]
pub(crate) struct Snapshot {
    pub(crate) tid: u64,
    pub(crate) thread: Option<String>,
    pub(crate) loop_no: u64,
    pub(crate) tasks: Vec<TaskRow>,
    /// The line as the loop sent it (`--json`).
    pub(crate) raw: String,
}

impl Snapshot {
    pub(crate) fn task(&self, id: u64) -> Option<&TaskRow> {
        self.tasks.iter().find(|t| t.id == id)
    }
}

fn string(v: &Value, key: &str) -> Result<String, String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("field '{key}' missing or not a string"))
}

fn opt_string(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn number(v: &Value, key: &str) -> Result<u64, String> {
    v.get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("field '{key}' missing or not a number"))
}

/// Parses one answer line; `Err` says what was wrong (or what the loop
/// answered as an error).
pub(crate) fn parse(line: &str) -> Result<Snapshot, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON ({e})"))?;
    if let Some(e) = v.get("error").and_then(Value::as_str) {
        return Err(format!("the loop refused: {e}"));
    }
    let version = number(&v, "version")?;
    if version != 1 {
        return Err(format!(
            "snapshot version {version}, this tulip-ps reads version 1"
        ));
    }
    let tasks = v
        .get("tasks")
        .and_then(Value::as_array)
        .ok_or("field 'tasks' missing or not a list")?
        .iter()
        .map(|t| {
            Ok(TaskRow {
                id: number(t, "id")?,
                name: string(t, "name")?,
                state: string(t, "state")?,
                created_at: string(t, "created_at")?,
                waiting_on: opt_string(t, "waiting_on"),
                detail: opt_string(t, "detail"),
                awaited_by: t.get("awaited_by").and_then(Value::as_u64),
                via: opt_string(t, "via"),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Snapshot {
        tid: number(&v, "tid")?,
        thread: opt_string(&v, "thread"),
        loop_no: number(&v, "loop")?,
        tasks,
        raw: line.to_owned(),
    })
}
