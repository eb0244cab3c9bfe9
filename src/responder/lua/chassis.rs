//! `require("chassis")`: the parts of MySQL Proxy's chassis module that mean
//! something without its plugin framework: logging. `log(level, message)`
//! (levels `error`, `critical`, `warning`, `message`, `info`, `debug`; level
//! defaults to `message`, message to "nil", as there) and the shorthands
//! `critical`, `warning`, `message`, `info`, `debug`. Lines go to understudy's
//! own log (`RUST_LOG`), prefixed with the script's file and line as MySQL
//! Proxy printed them.
//!
//! Left out: `set_shutdown` (stop the server with a signal instead),
//! `get_stats` (see `--stats-interval`), `mem_profile` (a glib debugging aid).

use log::Level;
use mlua::{Lua, Table, Value};

/// Builds the module table.
pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("_VERSION", "LuaChassis 0.2")?;
    t.raw_set("_DESCRIPTION", "export chassis-functions as chassis.*")?;
    t.raw_set(
        "log",
        lua.create_function(|lua, (level, msg): (Option<String>, Value)| {
            emit(lua, level.as_deref().unwrap_or("message"), &msg)
        })?,
    )?;
    for level in ["critical", "warning", "message", "info", "debug"] {
        t.raw_set(
            level,
            lua.create_function(move |lua, msg: Value| emit(lua, level, &msg))?,
        )?;
    }
    Ok(t)
}

/// The log level of a chassis level name.
fn level_of(name: &str) -> Option<Level> {
    Some(match name {
        "error" | "critical" => Level::Error,
        "warning" => Level::Warn,
        "message" | "info" => Level::Info,
        "debug" => Level::Debug,
        _ => return None,
    })
}

fn emit(lua: &Lua, level: &str, msg: &Value) -> mlua::Result<()> {
    let Some(lvl) = level_of(level) else {
        return Err(mlua::Error::RuntimeError(format!(
            "bad argument #1 to 'log' (invalid option '{level}')"
        )));
    };
    let text = match msg {
        Value::Nil => "nil".to_string(),
        v => lua
            .coerce_string(v.clone())?
            .map(|s| s.to_string_lossy())
            .ok_or_else(|| {
                mlua::Error::RuntimeError(format!(
                    "bad argument #2 to 'log' (string expected, got {})",
                    v.type_name()
                ))
            })?,
    };
    // level 1 is the Lua function that called us
    let (source, line) = lua
        .inspect_stack(1, |d| {
            let src = d.source();
            (
                src.short_src.map(|s| s.to_string()).unwrap_or_default(),
                d.current_line().unwrap_or(0),
            )
        })
        .unwrap_or_default();
    log::log!(target: "understudy::lua", lvl, "({source}:{line}) {text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::level_of;
    use log::Level;

    #[test]
    fn chassis_levels_map_to_log_levels() {
        assert_eq!(level_of("critical"), Some(Level::Error));
        assert_eq!(level_of("warning"), Some(Level::Warn));
        assert_eq!(level_of("message"), Some(Level::Info));
        assert_eq!(level_of("debug"), Some(Level::Debug));
        assert_eq!(level_of("loud"), None);
    }
}
