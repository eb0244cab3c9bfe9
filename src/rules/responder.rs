//! The rules as a link of the responder chain, and their state shared with
//! the admin port: the sources (files and directories, reloaded atomically
//! on SIGHUP and when a file changes), the rules added at run time, the
//! seeded generator, the statements no rule matched.

use super::behaviour::Rng;
use super::file::{self, Origin};
use super::shape::{self, Shaped};
use super::{CommandKind, Probe, Rule, RuleBook, Scratch};
use crate::protocol::command::Command;
use crate::responder::reply::{Answer, Fault};
use crate::responder::{Part, Request, Responder, Session};
use log::{info, warn};
use serde::Serialize;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::SystemTime;

/// Distinct unmatched statement shapes kept for SHOW UNMATCHED.
pub const MAX_UNMATCHED: usize = 1000;

/// Bytes of an unmatched statement its shape key is computed from.
pub const UNMATCHED_KEY_BYTES: usize = 1024;

/// A statement no rule matched.
#[derive(Debug, Clone, Serialize)]
pub struct Unmatched {
    /// The statement (the first seen of its shape, cut at 1 KiB).
    pub sql: String,
    /// How many times one of its shape came.
    pub count: u64,
    /// The nearest rule by edit distance, and the distance.
    pub nearest: Option<(String, usize)>,
}

/// What a file looked like when it was loaded (modification time, size).
type Stamp = (PathBuf, Option<(SystemTime, u64)>);

/// The rules and everything that changes them.
#[derive(Debug)]
pub struct RuleState {
    sources: Vec<PathBuf>,
    stamps: Vec<Stamp>,
    /// Rules built in code (the embedding API): first in load order.
    code: Vec<Rc<Rule>>,
    /// Rules from the sources, in load order.
    loaded: Vec<Rc<Rule>>,
    /// Rules added through the admin port, newest first: they come before
    /// the files, so a test can override a file's rule for a while.
    added: Vec<Rc<Rule>>,
    added_count: usize,
    book: RuleBook,
    /// The generator behind `probability` and delays (`--seed`).
    pub rng: Rng,
    /// The seed it started from.
    pub seed: u64,
    scratch: Scratch,
    unmatched: Vec<(String, Unmatched)>,
}

impl RuleState {
    /// Loads `sources` (files or directories) after the rules `code`.
    /// Nothing half-loaded: any error stops it.
    pub fn load(sources: Vec<PathBuf>, code: Vec<Rule>, seed: u64) -> Result<RuleState, String> {
        let loaded = load_all(&sources)?;
        let code: Vec<Rc<Rule>> = code.into_iter().map(Rc::new).collect();
        let mut st = RuleState {
            stamps: stamps(&sources),
            sources,
            code,
            loaded,
            added: Vec::new(),
            added_count: 0,
            book: RuleBook::default(),
            rng: Rng::new(seed),
            seed,
            scratch: Scratch::default(),
            unmatched: Vec::new(),
        };
        st.rebuild()?;
        Ok(st)
    }

    /// The rules in precedence order.
    pub fn rules(&self) -> &[Rc<Rule>] {
        self.book.rules()
    }

    /// The rule set in use.
    pub fn book(&self) -> &RuleBook {
        &self.book
    }

    fn rebuild(&mut self) -> Result<(), String> {
        let all: Vec<Rc<Rule>> = self
            .added
            .iter()
            .chain(&self.code)
            .chain(&self.loaded)
            .cloned()
            .collect();
        self.book = RuleBook::new(all)?;
        Ok(())
    }

    /// Loads the sources again: the new set entirely, or the old one and
    /// the reason.
    pub fn reload(&mut self) -> Result<usize, String> {
        self.stamps = stamps(&self.sources);
        let loaded = load_all(&self.sources)?;
        let old = std::mem::replace(&mut self.loaded, loaded);
        if let Err(e) = self.rebuild() {
            self.loaded = old;
            self.rebuild()?;
            return Err(e);
        }
        Ok(self.book.rules().len())
    }

    /// True when a source file changed since it was loaded.
    pub fn changed_on_disk(&self) -> bool {
        !self.sources.is_empty() && stamps(&self.sources) != self.stamps
    }

    /// LOAD RULES 'path': adds a source (reloaded with the others from now on).
    pub fn add_source(&mut self, path: &Path) -> Result<usize, String> {
        let rules = file::load_path(path)?;
        let n = rules.len();
        let before = self.loaded.len();
        self.loaded.extend(rules.into_iter().map(Rc::new));
        if let Err(e) = self.rebuild() {
            self.loaded.truncate(before);
            self.rebuild()?;
            return Err(e);
        }
        self.sources.push(path.to_path_buf());
        self.stamps = stamps(&self.sources);
        info!("rules: loaded {n} rules from {}", path.display());
        Ok(n)
    }

    /// ADD RULE '<json>': the rule answers before every other from now on.
    pub fn add_rule(&mut self, json: &str) -> Result<Rc<str>, String> {
        let origin = Origin {
            file: "admin".into(),
            dir: std::env::current_dir().unwrap_or_default(),
        };
        let r = file::parse_rule(json, &origin, self.added_count)?;
        if self.book.rules().iter().any(|x| x.name == r.name) {
            return Err(format!(
                "a rule named {:?} exists (DELETE RULE it first)",
                &*r.name
            ));
        }
        let name = r.name.clone();
        self.added.insert(0, Rc::new(r));
        self.added_count += 1;
        if let Err(e) = self.rebuild() {
            self.added.remove(0);
            self.rebuild()?;
            return Err(e);
        }
        Ok(name)
    }

    /// DELETE RULE 'name': false when there is none. A file's rule comes
    /// back with the next reload of its file.
    pub fn delete(&mut self, name: &str) -> Result<bool, String> {
        let before = self.book.rules().len();
        for list in [&mut self.added, &mut self.code, &mut self.loaded] {
            list.retain(|r| &*r.name != name);
        }
        self.rebuild()?;
        Ok(self.book.rules().len() != before)
    }

    /// The statements no rule matched, in the order first seen.
    pub fn unmatched(&self) -> Vec<Unmatched> {
        self.unmatched.iter().map(|(_, u)| u.clone()).collect()
    }

    /// Forgets the unmatched statements (RESET JOURNAL).
    pub fn reset_unmatched(&mut self) {
        self.unmatched.clear();
    }

    /// Counts an unmatched statement; a shape seen for the first time gets
    /// its nearest rule and a log line.
    fn note_unmatched(&mut self, text: &str) {
        // statements are keyed by the shape of their first KiB: a thousand
        // 64 MiB statements cost a thousand small keys, not 64 GiB
        let mut end = text.len().min(UNMATCHED_KEY_BYTES);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mut sh = Shaped::default();
        sh.of(&text[..end]);
        if let Some((_, u)) = self.unmatched.iter_mut().find(|(k, _)| *k == sh.shape) {
            u.count += 1;
            return;
        }
        if self.unmatched.len() >= MAX_UNMATCHED {
            return;
        }
        let nearest = self
            .book
            .nearest(&text[..end])
            .map(|(r, d)| (r.name.to_string(), d));
        match &nearest {
            Some((n, d)) => info!(
                "no rule matched `{}`; nearest rule: {n} (edit distance {d})",
                cut(text, 200)
            ),
            None => info!("no rule matched `{}`", cut(text, 200)),
        }
        self.unmatched.push((
            sh.shape,
            Unmatched {
                sql: cut(text, 1024),
                count: 1,
                nearest,
            },
        ));
    }
}

fn cut(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn load_all(sources: &[PathBuf]) -> Result<Vec<Rc<Rule>>, String> {
    let mut out = Vec::new();
    for s in sources {
        let rules = file::load_path(s)?;
        info!("rules: loaded {} rules from {}", rules.len(), s.display());
        out.extend(rules.into_iter().map(Rc::new));
    }
    Ok(out)
}

fn stamps(sources: &[PathBuf]) -> Vec<Stamp> {
    let stamp = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
    };
    let mut out = Vec::new();
    for s in sources {
        if s.is_dir() {
            out.push((s.clone(), None));
            for f in file::dir_files(s).unwrap_or_default() {
                let st = stamp(&f);
                out.push((f, st));
            }
        } else {
            out.push((s.clone(), stamp(s)));
        }
    }
    out
}

/// The rules as a responder.
pub struct RulesResponder {
    state: Rc<RefCell<RuleState>>,
}

impl RulesResponder {
    /// A responder answering from `state` (shared with the admin port).
    pub fn new(state: Rc<RefCell<RuleState>>) -> RulesResponder {
        RulesResponder { state }
    }

    fn try_reload(&self, why: &str) {
        let mut st = self.state.borrow_mut();
        match st.reload() {
            Ok(n) => info!("rules reloaded ({why}): {n} rules"),
            Err(e) => warn!("rules not reloaded ({why}), the old set stays: {e}"),
        }
    }
}

impl Responder for RulesResponder {
    fn answer(&mut self, session: &mut Session, req: &Request<'_>) -> Answer {
        let (command, bytes) = match req.command {
            Command::Query(q) => (CommandKind::Query, *q),
            Command::InitDb(d) => (CommandKind::InitDb, *d),
            Command::Ping => (CommandKind::Ping, &b""[..]),
            Command::ChangeUser(cu) => (CommandKind::ChangeUser, cu.username),
            _ => return Answer::decline(),
        };
        let st = &mut *self.state.borrow_mut();
        if st.book.rules().is_empty() {
            return Answer::decline();
        }
        let text = shape::text(bytes);
        let probe = Probe {
            command,
            text: &text,
            user: &session.user,
            database: session.database.as_deref(),
            describe: req.describe,
        };
        let Some(rule) = st.book.find(&probe, &mut st.scratch, &mut st.rng) else {
            return Answer::decline();
        };
        let mut a: Answer = rule.answer.reply().into();
        a.by = Some(rule.name.clone());
        if req.describe {
            return a;
        }
        rule.hits.set(rule.hits.get() + 1);
        if let Some(n) = rule.remaining.get() {
            rule.remaining.set(Some(n.saturating_sub(1)));
        }
        a.delay = rule.delay.as_ref().map(|d| d.draw(&mut st.rng));
        a.close = rule.close_after;
        a.fault = rule.fault.clone();
        if matches!(a.fault, Some(Fault::Stall)) {
            a.delay = None;
        }
        a
    }

    fn unmatched(&mut self, _session: &Session, req: &Request<'_>) {
        if let (Command::Query(q), false) = (req.command, req.describe || req.part == Part::Whole) {
            self.state.borrow_mut().note_unmatched(&shape::text(q));
        }
    }

    fn reload(&mut self) {
        self.try_reload("SIGHUP");
    }

    fn tick(&mut self) {
        let changed = self.state.borrow().changed_on_disk();
        if changed {
            self.try_reload("a rule file changed");
        }
    }
}
