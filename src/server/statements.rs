//! One connection's prepared statements: what COM_STMT_PREPARE created and
//! its executions need (the text and where its placeholders are, the
//! parameter types last sent, long data, the columns announced, an open
//! cursor), with the per-connection limits that keep a client from growing
//! it without bound.
//!
//! A statement is the server's (it prepared it; executions are answered as
//! the substituted text query) or a script's (a Lua script answered the
//! PREPARE itself in raw packets: its EXECUTE, CLOSE and RESET go to the
//! script as they came).

use super::encode::PausedRows;
use crate::protocol::binary::ParamType;
use std::collections::HashMap;

/// Most bytes of statement text and long data one connection may hold. A
/// statement is at most one packet (`max_allowed_packet`, 64 MiB by default)
/// and long data per parameter at most that again; without a total, a client
/// could keep thousands of them. 64 MiB is above what any application
/// prepares (sysbench's whole suite prepares a few KiB).
pub const MAX_STATEMENT_BYTES: usize = 64 << 20;

/// Memory per parameter besides long data: the placeholder's offset, its
/// remembered type, its long-data slot.
const PER_PARAM: usize = std::mem::size_of::<usize>()
    + std::mem::size_of::<ParamType>()
    + std::mem::size_of::<Option<Vec<u8>>>();

/// Who answers a statement's executions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The server: executions become the substituted text query.
    Server,
    /// A script that answered its PREPARE in raw packets.
    Script,
}

/// One prepared statement.
#[derive(Debug)]
pub struct Statement {
    /// Who answers it.
    pub owner: Owner,
    /// The text as prepared, with its `?`s.
    pub text: Box<[u8]>,
    /// Byte offsets of the placeholders in `text`.
    pub placeholders: Box<[usize]>,
    /// Parameter types, as the last execution that sent them said.
    pub types: Vec<ParamType>,
    /// COM_STMT_SEND_LONG_DATA bytes per parameter (empty until some come).
    pub long_data: Vec<Option<Vec<u8>>>,
    /// Long data went over its limit: the next execution is refused.
    pub long_refused: bool,
    /// Columns announced in PREPARE_OK.
    pub columns: u16,
    /// The rows of an execution with a cursor, for COM_STMT_FETCH.
    pub cursor: Option<Box<PausedRows>>,
}

impl Statement {
    /// Placeholders of the statement.
    pub fn params(&self) -> usize {
        self.placeholders.len()
    }

    /// Which parameters have long data.
    pub fn long_flags(&self) -> Vec<bool> {
        if self.long_data.is_empty() {
            return Vec::new(); // the common case: no allocation per execution
        }
        (0..self.params())
            .map(|i| matches!(self.long_data.get(i), Some(Some(_))))
            .collect()
    }

    /// Memory the statement holds or may come to hold: its text, and per
    /// parameter its placeholder offset, its type and a long-data slot (the
    /// last two appear at the first execution and long data), plus the long
    /// data itself. Counted in full from the start, so the connection's
    /// total bounds what it can hold, not only its text.
    fn bytes(&self) -> usize {
        Statements::cost(self.text.len(), self.params()) + self.long_bytes()
    }

    fn long_bytes(&self) -> usize {
        self.long_data.iter().flatten().map(Vec::len).sum()
    }
}

/// Why a statement could not be created or grown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// More statements than the per-connection limit.
    TooMany,
    /// More bytes than [`MAX_STATEMENT_BYTES`].
    TooLarge,
}

/// A connection's statements.
#[derive(Debug, Default)]
pub struct Statements {
    map: HashMap<u32, Statement>,
    next_id: u32,
    bytes: usize,
}

impl Statements {
    /// Number of statements.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// A statement by id.
    pub fn get(&self, id: u32) -> Option<&Statement> {
        self.map.get(&id)
    }

    /// A statement by id, to change.
    pub fn get_mut(&mut self, id: u32) -> Option<&mut Statement> {
        self.map.get_mut(&id)
    }

    /// What a statement of `text` bytes and `params` parameters counts
    /// against [`MAX_STATEMENT_BYTES`] before any long data.
    pub fn cost(text: usize, params: usize) -> usize {
        text.saturating_add(params.saturating_mul(PER_PARAM))
    }

    /// Checks that one more statement of `bytes` (text and per-parameter
    /// memory) fits the limits.
    pub fn room_for(&self, bytes: usize, max_count: usize) -> Result<(), Refused> {
        if self.map.len() >= max_count {
            return Err(Refused::TooMany);
        }
        if self.bytes.saturating_add(bytes) > MAX_STATEMENT_BYTES {
            return Err(Refused::TooLarge);
        }
        Ok(())
    }

    /// The id the next server statement gets: ids count from 1, skipping 0
    /// and any id a script's statement holds.
    pub fn next_id(&mut self) -> u32 {
        loop {
            self.next_id = self.next_id.wrapping_add(1);
            if self.next_id != 0 && !self.map.contains_key(&self.next_id) {
                return self.next_id;
            }
        }
    }

    /// Adds a statement under `id` (a script's id replaces a server statement
    /// of the same id, which its client can no longer tell apart).
    pub fn insert(&mut self, id: u32, s: Statement) {
        self.bytes += s.bytes();
        if let Some(old) = self.map.insert(id, s) {
            self.bytes -= old.bytes();
        }
    }

    /// Removes a statement (COM_STMT_CLOSE).
    pub fn remove(&mut self, id: u32) -> Option<Statement> {
        let s = self.map.remove(&id)?;
        self.bytes -= s.bytes();
        Some(s)
    }

    /// Appends long data to parameter `param` of statement `id`; refused past
    /// `max` bytes for the parameter or the connection's total.
    pub fn append_long_data(
        &mut self,
        id: u32,
        param: usize,
        data: &[u8],
        max: usize,
    ) -> Result<(), Refused> {
        let total = self.bytes;
        let Some(s) = self.map.get_mut(&id) else {
            return Ok(());
        };
        if param >= s.params() {
            return Ok(()); // MySQL ignores it, and reports nothing (no answer)
        }
        if s.long_data.len() < s.params() {
            s.long_data.resize_with(s.params(), || None);
        }
        let slot = s.long_data[param].get_or_insert_with(Vec::new); // invariant: resized above
        if slot.len().saturating_add(data.len()) > max
            || total.saturating_add(data.len()) > MAX_STATEMENT_BYTES
        {
            return Err(Refused::TooLarge);
        }
        slot.extend_from_slice(data);
        self.bytes += data.len();
        Ok(())
    }

    /// Drops a statement's long data and cursor (COM_STMT_RESET, and after
    /// each execution for the long data).
    pub fn reset(&mut self, id: u32) {
        if let Some(s) = self.map.get_mut(&id) {
            let freed = s.long_bytes();
            s.long_data.clear();
            s.cursor = None;
            self.bytes -= freed;
        }
    }

    /// Drops the long data only.
    pub fn clear_long_data(&mut self, id: u32) {
        if let Some(s) = self.map.get_mut(&id) {
            let freed = s.long_bytes();
            s.long_data.clear();
            self.bytes -= freed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt(text: &[u8], params: usize) -> Statement {
        Statement {
            owner: Owner::Server,
            text: text.into(),
            placeholders: (0..params).collect(),
            types: Vec::new(),
            long_data: Vec::new(),
            long_refused: false,
            columns: 0,
            cursor: None,
        }
    }

    #[test]
    fn ids_skip_zero_and_script_ids_and_limits_hold() {
        let mut t = Statements::default();
        t.insert(
            2,
            Statement {
                owner: Owner::Script,
                ..stmt(b"x", 0)
            },
        );
        assert_eq!(t.next_id(), 1);
        t.insert(1, stmt(b"a", 1));
        assert_eq!(t.next_id(), 3, "2 is the script's");
        assert_eq!(t.room_for(10, 2), Err(Refused::TooMany));
        assert_eq!(t.room_for(MAX_STATEMENT_BYTES, 10), Err(Refused::TooLarge));
        t.next_id = u32::MAX;
        assert_eq!(t.next_id(), 3, "wraps past 0, 1 and 2");
    }

    #[test]
    fn long_data_is_bounded_and_accounted() {
        let mut t = Statements::default();
        t.insert(1, stmt(b"?", 1));
        t.append_long_data(1, 0, b"abc", 5).unwrap();
        assert_eq!(t.append_long_data(1, 0, b"def", 5), Err(Refused::TooLarge));
        t.append_long_data(1, 7, b"ignored", 5).unwrap();
        assert_eq!(t.get(1).unwrap().long_flags(), vec![true]);
        // the text, one parameter's slots, and the 3 bytes of long data
        let base = Statements::cost(1, 1);
        assert_eq!(t.bytes, base + 3);
        t.reset(1);
        assert_eq!(t.bytes, base);
        t.remove(1);
        assert_eq!((t.bytes, t.len()), (0, 0));
    }
}
