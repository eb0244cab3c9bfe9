-- Per-user answers: who logged in decides what SELECT * FROM orders returns.
-- Run: understudy --lua-script examples/per_user.lua
-- then log in as alice or bob (any password).

local orders = {
    alice = { { 1, "book" }, { 2, "lamp" } },
    bob = { { 3, "kettle" } },
}

function read_query(packet)
    if packet:sub(2) ~= "SELECT * FROM orders" then return end
    local user = proxy.connection.client.username
    local rows = orders[user]
    if not rows then
        proxy.response = { type = proxy.MYSQLD_PACKET_ERR, errcode = 1142, sqlstate = "42000",
            errmsg = "SELECT command denied to user '" .. user .. "' for table 'orders'" }
        return proxy.PROXY_SEND_RESULT
    end
    proxy.response = { type = proxy.MYSQLD_PACKET_OK, resultset = {
        fields = { { name = "id", type = proxy.MYSQL_TYPE_LONG }, { name = "item" } }, rows = rows } }
    return proxy.PROXY_SEND_RESULT
end
