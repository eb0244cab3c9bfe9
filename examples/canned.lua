-- Canned answers by query pattern: the shape most mocks need.
-- Run: understudy --lua-script examples/canned.lua
-- Anything not matched here falls through to understudy's built-in answers.

local answers = {
    -- Lua patterns, matched against the whole query (case as sent)
    { "^SELECT id, name FROM users WHERE id = (%d+)$", function(id)
        return { fields = { { name = "id", type = proxy.MYSQL_TYPE_LONG }, { name = "name" } },
                 rows = { { id, "user-" .. id } } }
    end },
    { "^SELECT COUNT%(%*%) FROM users$", function()
        return { fields = { { name = "COUNT(*)", type = proxy.MYSQL_TYPE_LONGLONG } }, rows = { { 3 } } }
    end },
    { "^DELETE FROM users", function()
        return { ok = { affected_rows = 1 } }
    end },
    { "^DROP ", function()
        return { err = { errmsg = "not in this mock", errcode = 1142, sqlstate = "42000" } }
    end },
}

function read_query(packet)
    if packet:byte() ~= proxy.COM_QUERY then return end
    local q = packet:sub(2)
    for _, a in ipairs(answers) do
        local caps = { q:match(a[1]) }
        if caps[1] ~= nil then
            local r = a[2](unpack(caps))
            if r.ok then
                proxy.response = { type = proxy.MYSQLD_PACKET_OK, affected_rows = r.ok.affected_rows }
            elseif r.err then
                proxy.response = { type = proxy.MYSQLD_PACKET_ERR, errmsg = r.err.errmsg, errcode = r.err.errcode, sqlstate = r.err.sqlstate }
            else
                proxy.response = { type = proxy.MYSQLD_PACKET_OK, resultset = r }
            end
            return proxy.PROXY_SEND_RESULT
        end
    end
end
