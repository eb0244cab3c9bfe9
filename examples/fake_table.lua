-- A stateful fake table: INSERT then SELECT returns what was inserted.
-- The rows live in proxy.global, shared by every connection.
-- Run: understudy --lua-script examples/fake_table.lua
--   INSERT INTO notes VALUES ('hello')   -> OK, 1 row, insert id
--   SELECT * FROM notes                  -> id, body of every note
--   DELETE FROM notes                    -> OK, n rows

proxy.global.notes = proxy.global.notes or {}

local function ok(affected, id)
    proxy.response = { type = proxy.MYSQLD_PACKET_OK, affected_rows = affected, insert_id = id }
    return proxy.PROXY_SEND_RESULT
end

function read_query(packet)
    if packet:byte() ~= proxy.COM_QUERY then return end
    local q = packet:sub(2)
    local notes = proxy.global.notes
    local body = q:match("^[Ii][Nn][Ss][Ee][Rr][Tt] [Ii][Nn][Tt][Oo] notes VALUES %('(.*)'%)$")
    if body then
        notes[#notes + 1] = body
        return ok(1, #notes)
    end
    if q:match("^SELECT %* FROM notes$") then
        local rows = {}
        for i, b in ipairs(notes) do rows[i] = { i, b } end
        proxy.response = { type = proxy.MYSQLD_PACKET_OK, resultset = {
            fields = { { name = "id", type = proxy.MYSQL_TYPE_LONG }, { name = "body" } }, rows = rows } }
        return proxy.PROXY_SEND_RESULT
    end
    if q:match("^DELETE FROM notes$") then
        local n = #notes
        proxy.global.notes = {}
        return ok(n, 0)
    end
end
