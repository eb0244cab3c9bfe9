-- Latency on demand: SELECT SLEEP(n) answers after n seconds, without blocking
-- other clients (understudy's extension proxy.response.delay, served by a timer).
-- Run: understudy --lua-script examples/delay.lua
--   SELECT SLEEP(0.5)  -> one row, 0, half a second later

function read_query(packet)
    local secs = packet:sub(2):match("^[Ss][Ee][Ll][Ee][Cc][Tt] [Ss][Ll][Ee][Ee][Pp]%(([%d.]+)%)$")
    if not secs then return end
    proxy.response = {
        type = proxy.MYSQLD_PACKET_OK,
        resultset = { fields = { { name = "SLEEP(" .. secs .. ")", type = proxy.MYSQL_TYPE_LONGLONG } }, rows = { { 0 } } },
        delay = tonumber(secs),
    }
    return proxy.PROXY_SEND_RESULT
end
