//! Rule files: the JSON format (parsed by serde_json into the `*Spec`
//! types, unknown keys refused) and its compilation into [`Rule`]s, every
//! cell checked against its column's type and every resultset encoded once.
//! An error names the file, the rule and what is wrong; JSON syntax errors
//! carry serde_json's line and column.

use super::behaviour::Delay;
use super::coltype;
use super::shape::{collapse, Lit, Shaped};
use super::{CommandKind, Pattern, Rule, Template};
use crate::protocol::consts::{charset, colflag, status};
use crate::protocol::errcodes as er;
use crate::responder::canned::CannedSet;
use crate::responder::reply::{Cell, ErrReply, Fault, OkReply};
use serde::Deserialize;
use serde_json::Value as Json;
use std::borrow::Cow;
use std::cell::Cell as StdCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

/// Most rows a `rows_csv` file may hold: 10 million rows is far beyond any
/// canned answer a test needs, and bounds what a mistaken path (a log file)
/// can make the server hold.
pub const MAX_CSV_ROWS: usize = 10_000_000;

/// Most bytes a rule file may have (64 MiB): the file is read whole.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// A rule file: `{ "rules": [ … ] }`. Each rule is kept as its text and
/// read on its own, so that an error names its rule and the line in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec<'a> {
    /// The rules, in precedence order.
    #[serde(borrow)]
    pub rules: Vec<&'a serde_json::value::RawValue>,
}

/// One rule as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    name: Option<String>,
    #[serde(rename = "match")]
    matcher: MatchSpec,
    result: Option<ResultSpec>,
    ok: Option<OkSpec>,
    error: Option<ErrSpec>,
    results: Option<Vec<OneAnswer>>,
    delay_ms: Option<DelaySpec>,
    fault: Option<FaultSpec>,
    probability: Option<f64>,
    times: Option<u64>,
    /// Free text, ignored (a note for whoever reads the file).
    #[allow(dead_code)]
    comment: Option<Json>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchSpec {
    sql: Option<String>,
    prefix: Option<String>,
    regex: Option<String>,
    params: Option<Vec<Json>>,
    command: Option<String>,
    user: Option<String>,
    database: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OneAnswer {
    result: Option<ResultSpec>,
    ok: Option<OkSpec>,
    error: Option<ErrSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultSpec {
    columns: Vec<ColumnSpec>,
    rows: Option<Vec<Vec<Json>>>,
    rows_csv: Option<String>,
    /// The CSV's first line names the columns (skipped).
    #[serde(default)]
    csv_header: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnSpec {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    nullable: Option<bool>,
    charset: Option<Json>,
    table: Option<String>,
    schema: Option<String>,
    /// The physical column name (default: `name`).
    org_name: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct OkSpec {
    #[serde(default)]
    affected_rows: u64,
    #[serde(default)]
    last_insert_id: u64,
    #[serde(default)]
    warnings: u16,
    #[serde(default)]
    info: String,
}

/// An ERR as written in a rule.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ErrSpec {
    code: u16,
    sqlstate: Option<String>,
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DelaySpec {
    Fixed(f64),
    Uniform { uniform: [f64; 2] },
    LogNormal { lognormal: LogNormalSpec },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogNormalSpec {
    median_ms: f64,
    sigma: f64,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum FaultSpec {
    Named(String),
    CloseAfterRows {
        close_after_rows: u64,
    },
    ErrorAfterRows {
        error_after_rows: u64,
        error: Option<ErrSpec>,
    },
    Drip {
        drip: DripSpec,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DripSpec {
    bytes: usize,
    every_ms: f64,
}

/// Where a rule comes from, for its default name and its errors.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The file (`admin` for ADD RULE, `code` for the embedding API).
    pub file: String,
    /// Relative `rows_csv` paths are read from here.
    pub dir: PathBuf,
}

/// Reads one rule file (or every `*.json` of a directory, in name order).
pub fn load_path(path: &Path) -> Result<Vec<Rule>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.is_dir() {
        let mut rules = Vec::new();
        for f in dir_files(path)? {
            rules.extend(load_file(&f)?);
        }
        return Ok(rules);
    }
    load_file(path)
}

/// The `*.json` files of a directory, in name order.
pub fn dir_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

fn load_file(path: &Path) -> Result<Vec<Rule>, String> {
    let shown = path.display().to_string();
    let len = std::fs::metadata(path)
        .map_err(|e| format!("{shown}: {e}"))?
        .len();
    if len > MAX_FILE_BYTES {
        return Err(format!(
            "{shown}: {len} bytes, more than the {MAX_FILE_BYTES} a rule file may have"
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    let origin = Origin {
        file: path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| shown.clone()),
        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    parse_file(&text, &origin).map_err(|e| format!("{shown}: {e}"))
}

/// Parses a rule file's text.
pub fn parse_file(text: &str, origin: &Origin) -> Result<Vec<Rule>, String> {
    let spec: FileSpec = serde_json::from_str(text).map_err(|e| e.to_string())?;
    spec.rules
        .into_iter()
        .enumerate()
        .map(|(i, raw)| {
            // where the rule starts in the file, for its errors' line numbers
            let at = (raw.get().as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
            let first_line = text.get(..at).map_or(0, |t| t.matches('\n').count());
            let name = serde_json::from_str::<NameOnly>(raw.get())
                .ok()
                .and_then(|n| n.name);
            let label = match &name {
                Some(n) => format!("rule {i} ({n:?})"),
                None => format!("rule {i}"),
            };
            let r: RuleSpec = serde_json::from_str(raw.get()).map_err(|e| {
                let msg = e.to_string();
                let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
                format!("{label}: {msg} at line {}", first_line + e.line())
            })?;
            compile(r, origin, i).map_err(|e| format!("{label}: {e}"))
        })
        .collect()
}

/// Just a rule's name, to name it in errors about the rest of it.
#[derive(Deserialize)]
struct NameOnly {
    name: Option<String>,
}

/// Parses one rule given as JSON (ADD RULE, the embedding API).
pub fn parse_rule(text: &str, origin: &Origin, index: usize) -> Result<Rule, String> {
    let spec: RuleSpec = serde_json::from_str(text).map_err(|e| e.to_string())?;
    compile(spec, origin, index)
}

fn compile(r: RuleSpec, origin: &Origin, index: usize) -> Result<Rule, String> {
    let m = r.matcher;
    let command = match m.command.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("query") => CommandKind::Query,
        Some("init_db") => CommandKind::InitDb,
        Some("ping") => CommandKind::Ping,
        Some("change_user") => CommandKind::ChangeUser,
        Some(other) => {
            return Err(format!(
                "match.command {other:?}: one of query, init_db, ping, change_user"
            ))
        }
    };
    let given = [m.sql.is_some(), m.prefix.is_some(), m.regex.is_some()]
        .iter()
        .filter(|x| **x)
        .count();
    if given > 1 {
        return Err("match: give one of sql, prefix, regex".into());
    }
    let (pattern, text) = if let Some(sql) = m.sql {
        let mut sh = Shaped::default();
        sh.of(&sql);
        let placeholders = sh.lits.iter().filter(|l| **l == Lit::Any).count();
        if let Some(p) = &m.params {
            if p.len() != placeholders {
                return Err(format!(
                    "match.params has {} values for {placeholders} '?' in match.sql",
                    p.len()
                ));
            }
        }
        (
            Pattern::Sql {
                shape: sh.shape,
                lits: sh.lits,
            },
            sql,
        )
    } else if let Some(p) = m.prefix {
        // a trailing space is part of the prefix ("INSERT INTO t " is not
        // "INSERT INTO tables"); runs of whitespace are one space
        let mut norm = collapse(&p, true);
        if p.ends_with(char::is_whitespace) && !norm.is_empty() {
            norm.push(' ');
        }
        (Pattern::Prefix(norm), p)
    } else if let Some(re) = m.regex {
        regex::Regex::new(&re).map_err(|e| format!("match.regex: {e}"))?;
        (Pattern::Regex(re.clone()), re)
    } else if command == CommandKind::Query {
        return Err("match: a query rule needs sql, prefix or regex".into());
    } else {
        (Pattern::Any, String::new())
    };
    let answers = [
        r.result.is_some(),
        r.ok.is_some(),
        r.error.is_some(),
        r.results.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if answers != 1 {
        return Err("give exactly one answer: result, ok, error or results".into());
    }
    let answer = if let Some(list) = r.results {
        if list.is_empty() {
            return Err("results: an empty list".into());
        }
        let mut out = Vec::new();
        for (i, a) in list.into_iter().enumerate() {
            let n = [a.result.is_some(), a.ok.is_some(), a.error.is_some()]
                .iter()
                .filter(|x| **x)
                .count();
            if n != 1 {
                return Err(format!(
                    "results[{i}]: give exactly one of result, ok, error"
                ));
            }
            out.push(
                one_answer(a.result, a.ok, a.error, origin)
                    .map_err(|e| format!("results[{i}]: {e}"))?,
            );
        }
        Template::Multi(out)
    } else {
        one_answer(r.result, r.ok, r.error, origin)?
    };
    let delay = match r.delay_ms {
        None => None,
        Some(DelaySpec::Fixed(ms)) => Some(Delay::Fixed(ms)),
        Some(DelaySpec::Uniform { uniform: [a, b] }) => Some(Delay::Uniform(a, b)),
        Some(DelaySpec::LogNormal { lognormal: l }) => Some(Delay::LogNormal {
            median_ms: l.median_ms,
            sigma: l.sigma,
        }),
    };
    if let Some(d) = &delay {
        d.check()?;
    }
    let (fault, close_after) = match r.fault {
        None => (None, false),
        Some(FaultSpec::Named(n)) => match n.as_str() {
            "close_before" => (Some(Fault::CloseBefore), false),
            "close_after" => (None, true),
            "reset" => (Some(Fault::Reset), false),
            "stall" => (Some(Fault::Stall), false),
            "malformed" => (Some(Fault::Malformed), false),
            other => return Err(format!(
                "fault {other:?}: one of close_before, close_after, reset, stall, malformed, {{\"close_after_rows\": N}}, {{\"error_after_rows\": N, \"error\": …}}, {{\"drip\": {{\"bytes\": B, \"every_ms\": T}}}}"
            )),
        },
        Some(FaultSpec::CloseAfterRows { close_after_rows }) => {
            (Some(Fault::CloseAfterRows(close_after_rows)), false)
        }
        Some(FaultSpec::ErrorAfterRows {
            error_after_rows,
            error,
        }) => {
            let e = match error {
                Some(e) => err_reply(e)?,
                None => ErrReply::standard(er::ER_QUERY_INTERRUPTED),
            };
            (Some(Fault::ErrorAfterRows(error_after_rows, e)), false)
        }
        Some(FaultSpec::Drip { drip }) => {
            if drip.bytes == 0 || !drip.every_ms.is_finite() || drip.every_ms < 0.0 {
                return Err("fault.drip needs bytes >= 1 and every_ms >= 0".into());
            }
            let every = crate::limits::delay_from_secs(drip.every_ms / 1000.0);
            (
                Some(Fault::Drip {
                    bytes: drip.bytes,
                    every: every.max(Duration::from_millis(1)),
                }),
                false,
            )
        }
    };
    if matches!(
        fault,
        Some(Fault::CloseAfterRows(_) | Fault::ErrorAfterRows(..))
    ) && !matches!(answer, Template::Result(_))
    {
        return Err("close_after_rows and error_after_rows need a result answer".into());
    }
    if let Some(p) = r.probability {
        if !(0.0..=1.0).contains(&p) {
            return Err(format!("probability {p}: a number from 0 to 1"));
        }
    }
    let name: Rc<str> = match r.name {
        Some(n) if !n.is_empty() => n.into(),
        _ => format!("{}:{index}", origin.file).into(),
    };
    Ok(Rule {
        name,
        file: origin.file.clone(),
        command,
        pattern,
        text,
        params: m.params,
        user: m.user,
        database: m.database,
        answer,
        delay,
        fault,
        close_after,
        probability: r.probability,
        times: r.times,
        hits: StdCell::new(0),
        remaining: StdCell::new(r.times),
    })
}

fn one_answer(
    result: Option<ResultSpec>,
    ok: Option<OkSpec>,
    error: Option<ErrSpec>,
    origin: &Origin,
) -> Result<Template, String> {
    if let Some(e) = error {
        return Ok(Template::Err(err_reply(e)?));
    }
    if let Some(o) = ok {
        return Ok(Template::Ok(OkReply {
            affected_rows: o.affected_rows,
            last_insert_id: o.last_insert_id,
            warnings: o.warnings,
            info: Cow::Owned(o.info.into_bytes()),
            status: None,
        }));
    }
    let r = result.ok_or("no answer")?;
    result_set(r, origin).map(|s| Template::Result(Rc::new(s)))
}

fn err_reply(e: ErrSpec) -> Result<ErrReply, String> {
    let known = er::ALL.iter().find(|m| m.code == e.code);
    let sqlstate = e
        .sqlstate
        .or_else(|| known.map(|k| k.sqlstate.to_string()))
        .unwrap_or_else(|| "HY000".to_string());
    if sqlstate.len() != 5 || !sqlstate.bytes().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "error.sqlstate {sqlstate:?}: five letters or digits"
        ));
    }
    let message = e
        .message
        .or_else(|| known.map(|k| k.message.to_string()))
        .unwrap_or_else(|| format!("error {}", e.code));
    Ok(ErrReply::new(e.code, &sqlstate, message.as_bytes()))
}

fn charset_id(v: &Json) -> Result<u16, String> {
    match v {
        Json::Number(n) => n
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| format!("charset {n}: a collation id 1..65535")),
        Json::String(s) => match s.to_ascii_lowercase().as_str() {
            "utf8mb4" | "utf8mb4_0900_ai_ci" => Ok(charset::UTF8MB4_0900_AI_CI),
            "utf8mb4_general_ci" => Ok(charset::UTF8MB4),
            "utf8" | "utf8mb3" | "utf8_general_ci" | "utf8mb3_general_ci" => Ok(charset::UTF8),
            "latin1" | "latin1_swedish_ci" => Ok(charset::LATIN1),
            "binary" => Ok(charset::BINARY),
            other => Err(format!(
                "charset {other:?}: utf8mb4, utf8mb4_general_ci, utf8mb3, latin1, binary, or a collation id"
            )),
        },
        _ => Err("charset: a name or a collation id".into()),
    }
}

fn result_set(r: ResultSpec, origin: &Origin) -> Result<CannedSet, String> {
    if r.columns.is_empty() {
        return Err("result.columns: at least one column".into());
    }
    if r.columns.len() > 4096 {
        return Err("result.columns: more than MySQL's 4096".into());
    }
    let mut columns = Vec::with_capacity(r.columns.len());
    let mut kinds = Vec::with_capacity(r.columns.len());
    let mut not_null = Vec::with_capacity(r.columns.len());
    for (i, c) in r.columns.iter().enumerate() {
        let t =
            coltype::parse(&c.ty).map_err(|e| format!("result.columns[{i}] ({}): {e}", c.name))?;
        let mut d = t.def;
        d.name = c.name.as_bytes().to_vec();
        d.org_name = c.org_name.as_deref().unwrap_or(&c.name).as_bytes().to_vec();
        if let Some(tb) = &c.table {
            d.table = tb.as_bytes().to_vec();
            d.org_table = d.table.clone();
        }
        if let Some(s) = &c.schema {
            d.schema = s.as_bytes().to_vec();
        }
        if let Some(cs) = &c.charset {
            d.charset = charset_id(cs).map_err(|e| format!("result.columns[{i}]: {e}"))?;
        }
        let nn = c.nullable == Some(false);
        if nn {
            d.flags |= colflag::NOT_NULL;
        }
        columns.push(d);
        kinds.push(t.kind);
        not_null.push(nn);
    }
    let check = |row: usize, col: usize, cell: Cell| -> Result<Cell, String> {
        if cell == Cell::Null && not_null[col] {
            return Err(format!(
                "row {} column {} ({}): NULL in a column that is not nullable",
                row + 1,
                col + 1,
                r.columns[col].name
            ));
        }
        Ok(cell)
    };
    let rows = match (r.rows, &r.rows_csv) {
        (Some(_), Some(_)) => return Err("result: give rows or rows_csv, not both".into()),
        (Some(rows), None) => {
            let mut out = Vec::with_capacity(rows.len());
            for (ri, row) in rows.iter().enumerate() {
                if row.len() != kinds.len() {
                    return Err(format!(
                        "row {}: {} cells for {} columns",
                        ri + 1,
                        row.len(),
                        kinds.len()
                    ));
                }
                let mut cells = Vec::with_capacity(row.len());
                for (ci, v) in row.iter().enumerate() {
                    let c = coltype::cell(kinds[ci], v).map_err(|e| {
                        format!(
                            "row {} column {} ({}): {e}",
                            ri + 1,
                            ci + 1,
                            r.columns[ci].name
                        )
                    })?;
                    cells.push(check(ri, ci, c)?);
                }
                out.push(cells);
            }
            out
        }
        (None, Some(csv_path)) => {
            let path = origin.dir.join(csv_path);
            let mut rd = csv::ReaderBuilder::new()
                .has_headers(r.csv_header)
                .flexible(true)
                .from_path(&path)
                .map_err(|e| format!("rows_csv {}: {e}", path.display()))?;
            let mut out = Vec::new();
            for (ri, rec) in rd.records().enumerate() {
                let rec = rec.map_err(|e| format!("rows_csv {}: {e}", path.display()))?;
                if out.len() >= MAX_CSV_ROWS {
                    return Err(format!(
                        "rows_csv {}: more than {MAX_CSV_ROWS} rows",
                        path.display()
                    ));
                }
                if rec.len() != kinds.len() {
                    return Err(format!(
                        "rows_csv {} row {}: {} fields for {} columns",
                        path.display(),
                        ri + 1,
                        rec.len(),
                        kinds.len()
                    ));
                }
                let mut cells = Vec::with_capacity(rec.len());
                for (ci, f) in rec.iter().enumerate() {
                    // \N is NULL, as LOAD DATA and mysqldump's CSV write it
                    let c = if f == "\\N" {
                        Cell::Null
                    } else {
                        coltype::text_cell(kinds[ci], f).map_err(|e| {
                            format!(
                                "rows_csv {} row {} column {} ({}): {e}",
                                path.display(),
                                ri + 1,
                                ci + 1,
                                r.columns[ci].name
                            )
                        })?
                    };
                    cells.push(check(ri, ci, c)?);
                }
                out.push(cells);
            }
            out
        }
        (None, None) => Vec::new(),
    };
    CannedSet::new(columns, rows, status::AUTOCOMMIT).map_err(|e| e.to_string())
}
