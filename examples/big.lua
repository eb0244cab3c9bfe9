-- A big resultset: SELECT * FROM big returns N rows (default 1,000,000) of
-- (id, name, val). Set the size with SELECT * FROM big LIMIT n.
-- Run: understudy --lua-script examples/big.lua

function read_query(packet)
    local q = packet:sub(2)
    if not q:match("^SELECT %* FROM big") then return end
    local n = tonumber(q:match("LIMIT (%d+)$")) or 1000000
    local rows = {}
    for i = 1, n do
        rows[i] = { i, "row-" .. i, (i * 7919) % 100003 - 50000 }
    end
    proxy.response = { type = proxy.MYSQLD_PACKET_OK, resultset = {
        fields = {
            { name = "id", type = proxy.MYSQL_TYPE_LONG },
            { name = "name", type = proxy.MYSQL_TYPE_VAR_STRING },
            { name = "val", type = proxy.MYSQL_TYPE_LONGLONG },
        },
        rows = rows } }
    return proxy.PROXY_SEND_RESULT
end
