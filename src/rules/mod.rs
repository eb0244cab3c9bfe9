//! Rules without code: canned answers, errors, delays and faults described
//! in JSON files (`--rules`), added at run time through the admin port, or
//! built in code by an embedder.
//!
//! - [`file`]: the format and its compilation (every cell checked, every
//!   resultset encoded once at load).
//! - [`shape`]: how statements are normalised for `sql` rules.
//! - [`coltype`]: column types as `CREATE TABLE` writes them.
//! - [`behaviour`]: delays, the seeded generator.
//! - [`RuleBook`]: the loaded set, with its indexes (a hash of shapes for
//!   `sql` rules, one `RegexSet` for every `regex` rule, the prefixes); the
//!   first rule in load order that matches answers.
//! - [`responder::RulesResponder`]: the link of the responder chain.

pub mod behaviour;
pub mod coltype;
pub mod file;
pub mod responder;
pub mod shape;

use crate::responder::canned::CannedSet;
use crate::responder::reply::{ErrReply, Fault, OkReply, Reply};
use behaviour::Delay;
use regex::RegexSet;
use serde_json::Value as Json;
use shape::{Lit, Shaped};
use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;

/// Which command a rule answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    /// COM_QUERY, and prepared statements' executions.
    Query,
    /// COM_INIT_DB (`USE db`): the pattern is matched against the name.
    InitDb,
    /// COM_PING.
    Ping,
    /// COM_CHANGE_USER: the pattern is matched against the user name.
    ChangeUser,
}

impl CommandKind {
    /// The name rule files use.
    pub fn name(self) -> &'static str {
        match self {
            CommandKind::Query => "query",
            CommandKind::InitDb => "init_db",
            CommandKind::Ping => "ping",
            CommandKind::ChangeUser => "change_user",
        }
    }
}

/// What a rule's statement must look like.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// The statement's shape, and the literals at each `?` of it (a rule's
    /// own literals must be equal; its `?` take any).
    Sql {
        /// The shape (see [`shape`]).
        shape: String,
        /// The rule's literals, `Lit::Any` at its `?`.
        lits: Vec<Lit>,
    },
    /// The collapsed, lower-cased statement starts with this.
    Prefix(String),
    /// The collapsed statement (case kept) matches this regex.
    Regex(String),
    /// Any (commands other than queries without a pattern).
    Any,
}

/// A rule's answer, ready to be handed out: resultsets are encoded once.
#[derive(Debug, Clone)]
pub enum Template {
    /// A resultset.
    Result(Rc<CannedSet>),
    /// An OK.
    Ok(OkReply),
    /// An ERR.
    Err(ErrReply),
    /// One answer per statement of a multi-statement query.
    Multi(Vec<Template>),
}

impl Template {
    /// The reply for one request (a canned resultset is shared, not copied).
    pub fn reply(&self) -> Reply {
        match self {
            Template::Result(s) => Reply::Canned(s.clone()),
            Template::Ok(o) => Reply::Ok(o.clone()),
            Template::Err(e) => Reply::Err(e.clone()),
            Template::Multi(l) => Reply::Multi(l.iter().map(Template::reply).collect()),
        }
    }

    /// The kind, for SHOW RULES.
    pub fn kind(&self) -> &'static str {
        match self {
            Template::Result(_) => "result",
            Template::Ok(_) => "ok",
            Template::Err(_) => "error",
            Template::Multi(_) => "results",
        }
    }
}

/// One compiled rule.
#[derive(Debug)]
pub struct Rule {
    /// Its name (given, or `file:index`).
    pub name: Rc<str>,
    /// The file it came from (`admin`, `code`).
    pub file: String,
    /// The command it answers.
    pub command: CommandKind,
    /// What the statement must look like.
    pub pattern: Pattern,
    /// The pattern as written (SHOW RULES, near misses).
    pub text: String,
    /// Values the `?` positions must hold (a `prefix` or `regex` rule: the
    /// statement's literals, in order).
    pub params: Option<Vec<Json>>,
    /// Only for this user.
    pub user: Option<String>,
    /// Only with this default database.
    pub database: Option<String>,
    /// The answer.
    pub answer: Template,
    /// Hold the answer back.
    pub delay: Option<Delay>,
    /// A fault to stage.
    pub fault: Option<Fault>,
    /// Close after answering (`fault: "close_after"`).
    pub close_after: bool,
    /// Answer only with this probability (otherwise stand aside).
    pub probability: Option<f64>,
    /// Answer at most this many times (as written).
    pub times: Option<u64>,
    /// Times it answered.
    pub hits: Cell<u64>,
    /// Answers left (`None`: no limit).
    pub remaining: Cell<Option<u64>>,
}

/// What a request looks like to the rules.
#[derive(Debug)]
pub struct Probe<'a> {
    /// The command.
    pub command: CommandKind,
    /// The statement (a query), the database name (INIT_DB), the user (CHANGE_USER).
    pub text: &'a str,
    /// The session's user.
    pub user: &'a str,
    /// The session's default database.
    pub database: Option<&'a str>,
    /// A prepared statement's dry run at prepare: parameters are not
    /// known, `times` and `probability` are not spent.
    pub describe: bool,
}

/// A loaded set of rules and its indexes, built once per (re)load.
#[derive(Debug, Default)]
pub struct RuleBook {
    rules: Vec<Rc<Rule>>,
    /// Shape → indices of `sql` query rules with that shape, ascending.
    exact: HashMap<String, Vec<usize>>,
    /// (prefix, index) of `prefix` query rules, ascending.
    prefixes: Vec<(String, usize)>,
    /// Every `regex` query rule, matched in one pass.
    regex: Option<RegexSet>,
    /// The rule index of each regex of `regex`.
    regex_rules: Vec<usize>,
    /// Indices of rules for other commands, ascending.
    others: Vec<usize>,
}

/// Most bytes of a compiled regex set: 1,000 ordinary patterns take a few
/// MiB; the cap refuses a set that would take far more (the regex crate's
/// own default is 10 MiB per regex) at load, not at a query.
const REGEX_SET_LIMIT: usize = 256 << 20;

impl RuleBook {
    /// Indexes `rules` (precedence is their order).
    pub fn new(rules: Vec<Rc<Rule>>) -> Result<RuleBook, String> {
        let mut b = RuleBook::default();
        let mut names = std::collections::HashMap::new();
        for r in &rules {
            if let Some(first) = names.insert(r.name.clone(), r.file.clone()) {
                return Err(format!(
                    "two rules are named {:?} (in {first} and in {}): names must be unique",
                    &*r.name, r.file
                ));
            }
        }
        let mut regexes = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            if r.command != CommandKind::Query {
                b.others.push(i);
                continue;
            }
            match &r.pattern {
                Pattern::Sql { shape, .. } => b.exact.entry(shape.clone()).or_default().push(i),
                Pattern::Prefix(p) => b.prefixes.push((p.clone(), i)),
                Pattern::Regex(re) => {
                    regexes.push(re.clone());
                    b.regex_rules.push(i);
                }
                Pattern::Any => b.others.push(i),
            }
        }
        if !regexes.is_empty() {
            let set = regex::RegexSetBuilder::new(&regexes)
                .size_limit(REGEX_SET_LIMIT)
                .dfa_size_limit(REGEX_SET_LIMIT)
                .build()
                .map_err(|e| format!("the rules' regexes: {e}"))?;
            b.regex = Some(set);
        }
        b.rules = rules;
        Ok(b)
    }

    /// The rules, in precedence order.
    pub fn rules(&self) -> &[Rc<Rule>] {
        &self.rules
    }

    /// The first rule that answers `probe`; `rng` decides probabilities.
    /// `scratch` holds the statement's shape between calls (no allocation
    /// once warm).
    pub fn find(
        &self,
        probe: &Probe<'_>,
        scratch: &mut Scratch,
        rng: &mut behaviour::Rng,
    ) -> Option<&Rule> {
        if self.rules.is_empty() {
            return None;
        }
        scratch.candidates.clear();
        scratch.shaped_for = false;
        if probe.command == CommandKind::Query {
            if !self.exact.is_empty() {
                scratch.shaped.of(probe.text);
                scratch.shaped_for = true;
                if let Some(v) = self.exact.get(&scratch.shaped.shape) {
                    scratch.candidates.extend_from_slice(v);
                }
            }
            if !self.prefixes.is_empty() {
                shape::collapse_reuse(probe.text, true, &mut scratch.collapsed);
                for (p, i) in &self.prefixes {
                    if scratch.collapsed.starts_with(p.as_str()) {
                        scratch.candidates.push(*i);
                    }
                }
            }
            if let Some(set) = &self.regex {
                shape::collapse_reuse(probe.text, false, &mut scratch.collapsed);
                // one early-stopping pass first: most statements match no
                // regex, and only a match needs the (costlier) list of all
                if set.is_match(&scratch.collapsed) {
                    for m in set.matches(&scratch.collapsed).iter() {
                        scratch.candidates.push(self.regex_rules[m]);
                    }
                }
            }
        }
        scratch.candidates.extend_from_slice(&self.others);
        scratch.candidates.sort_unstable();
        let cands = std::mem::take(&mut scratch.candidates);
        let found = cands
            .iter()
            .map(|&i| &*self.rules[i])
            .find(|r| self.accepts(r, probe, scratch, rng));
        scratch.candidates = cands;
        found
    }

    fn accepts(
        &self,
        r: &Rule,
        probe: &Probe<'_>,
        scratch: &mut Scratch,
        rng: &mut behaviour::Rng,
    ) -> bool {
        if r.command != probe.command {
            return false;
        }
        if r.user.as_deref().is_some_and(|u| u != probe.user) {
            return false;
        }
        if r.database.is_some() && r.database.as_deref() != probe.database {
            return false;
        }
        if probe.command != CommandKind::Query && !other_matches(r, probe.text) {
            return false;
        }
        // a query's literals (another command's name is matched whole above)
        if let (Pattern::Sql { lits, .. }, CommandKind::Query) = (&r.pattern, probe.command) {
            let got = &scratch.shaped.lits;
            if got.len() != lits.len() || !lits.iter().zip(got).all(|(w, g)| w.accepts(g)) {
                return false;
            }
        }
        if let (Some(params), false) = (&r.params, probe.describe) {
            if !self.params_match(r, params, probe, scratch) {
                return false;
            }
        }
        if probe.describe {
            return true;
        }
        if r.remaining.get() == Some(0) {
            return false;
        }
        if let Some(p) = r.probability {
            if rng.unit() >= p {
                return false;
            }
        }
        true
    }

    fn params_match(
        &self,
        r: &Rule,
        params: &[Json],
        probe: &Probe<'_>,
        scratch: &mut Scratch,
    ) -> bool {
        if !scratch.shaped_for {
            scratch.shaped.of(probe.text);
            scratch.shaped_for = true;
        }
        let got = &scratch.shaped.lits;
        match &r.pattern {
            Pattern::Sql { lits, .. } => {
                let at_any = lits
                    .iter()
                    .zip(got)
                    .filter(|(w, _)| **w == Lit::Any)
                    .map(|(_, g)| g);
                params.iter().zip(at_any).all(|(w, g)| g.equals_json(w))
            }
            _ => params.len() <= got.len() && params.iter().zip(got).all(|(w, g)| g.equals_json(w)),
        }
    }

    /// The rule nearest to `text` by edit distance among query rules with a
    /// pattern (WireMock's near miss), and the distance. Bounded: both sides
    /// are cut at [`NEAR_MISS_CHARS`] and at most [`NEAR_MISS_RULES`] rules
    /// are compared, so one unmatched statement costs at most a few
    /// milliseconds whatever the set.
    pub fn nearest(&self, text: &str) -> Option<(&Rule, usize)> {
        let q = shape::collapse(text, true);
        let q: Vec<char> = q.chars().take(NEAR_MISS_CHARS).collect();
        self.rules
            .iter()
            .filter(|r| r.command == CommandKind::Query && !r.text.is_empty())
            .take(NEAR_MISS_RULES)
            .map(|r| {
                let t: Vec<char> = shape::collapse(&r.text, true)
                    .chars()
                    .take(NEAR_MISS_CHARS)
                    .collect();
                (&**r, levenshtein(&q, &t))
            })
            .min_by_key(|(_, d)| *d)
    }
}

/// Characters of a statement and of a rule compared for a near miss.
pub const NEAR_MISS_CHARS: usize = 96;
/// Rules compared for a near miss (the first in load order).
pub const NEAR_MISS_RULES: usize = 500;

fn levenshtein(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// A non-query rule's pattern against the name it is matched with.
fn other_matches(r: &Rule, text: &str) -> bool {
    match &r.pattern {
        Pattern::Any => true,
        Pattern::Sql { .. } => r.text.eq_ignore_ascii_case(text.trim()),
        Pattern::Prefix(p) => text.trim().to_ascii_lowercase().starts_with(p.as_str()),
        // compiled at load: the pattern is valid (rare commands; compiled again here)
        Pattern::Regex(re) => regex::Regex::new(re).is_ok_and(|re| re.is_match(text)),
    }
}

/// Per-responder scratch space for matching.
#[derive(Debug, Default)]
pub struct Scratch {
    shaped: Shaped,
    shaped_for: bool,
    candidates: Vec<usize>,
    /// The collapsed statement (prefix and regex rules).
    collapsed: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use file::{parse_file, Origin};

    fn book(json: &str) -> RuleBook {
        let o = Origin {
            file: "t.json".into(),
            dir: ".".into(),
        };
        RuleBook::new(
            parse_file(json, &o)
                .unwrap()
                .into_iter()
                .map(Rc::new)
                .collect(),
        )
        .unwrap()
    }

    fn find<'b>(b: &'b RuleBook, sql: &str) -> Option<&'b str> {
        let p = Probe {
            command: CommandKind::Query,
            text: sql,
            user: "u",
            database: None,
            describe: false,
        };
        b.find(&p, &mut Scratch::default(), &mut behaviour::Rng::new(1))
            .map(|r| &*r.name)
    }

    #[test]
    fn first_match_in_load_order_across_kinds() {
        let b = book(
            r#"{"rules": [
                {"name": "re", "match": {"regex": "^SELECT .* FROM orders"}, "ok": {}},
                {"name": "by-id", "match": {"sql": "SELECT name FROM users WHERE id = ?", "params": [7]}, "ok": {}},
                {"name": "any-id", "match": {"sql": "SELECT name FROM users WHERE id = ?"}, "ok": {}},
                {"name": "pre", "match": {"prefix": "select"}, "ok": {}}
            ]}"#,
        );
        assert_eq!(
            find(&b, "select name from users where id = 7"),
            Some("by-id")
        );
        assert_eq!(
            find(&b, "SELECT name FROM users WHERE id='7'"),
            Some("by-id")
        );
        assert_eq!(
            find(&b, "SELECT name FROM users WHERE id = 8;"),
            Some("any-id")
        );
        assert_eq!(find(&b, "SELECT * FROM orders"), Some("re"));
        assert_eq!(find(&b, "select 1"), Some("pre"));
        assert_eq!(find(&b, "insert into t values (1)"), None);
    }

    #[test]
    fn times_and_literals() {
        let b = book(
            r#"{"rules": [
                {"match": {"sql": "SELECT 1"}, "ok": {}, "times": 2},
                {"name": "two", "match": {"sql": "SELECT 2"}, "ok": {}}
            ]}"#,
        );
        assert_eq!(find(&b, "SELECT 1"), Some("t.json:0"));
        assert_eq!(find(&b, "SELECT 2"), Some("two"));
        assert_eq!(find(&b, "SELECT 3"), None);
        assert_eq!(b.rules()[0].remaining.get(), Some(2), "find does not spend");
    }

    #[test]
    fn near_miss() {
        let b = book(
            r#"{"rules": [
                {"name": "users", "match": {"sql": "SELECT name FROM users WHERE id = ?"}, "ok": {}},
                {"name": "orders", "match": {"sql": "SELECT * FROM orders"}, "ok": {}}
            ]}"#,
        );
        let (r, d) = b.nearest("SELECT name FROM user WHERE id = 1").unwrap();
        assert_eq!(&*r.name, "users");
        assert!(d <= 3, "{d}");
    }
}
