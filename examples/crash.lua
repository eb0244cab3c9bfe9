-- A simulated crash: after N queries on a connection the server hangs up on it,
-- mid-session, as a dying database would. Good for testing driver reconnects.
-- Run: understudy --lua-script examples/crash.lua
--   the 3rd query on each connection gets an error 2013-style close

local queries = 0  -- per connection: each connection runs this chunk in its own environment

function read_query(packet)
    if packet:byte() ~= proxy.COM_QUERY then return end
    queries = queries + 1
    if queries >= 3 then
        proxy.response = { type = proxy.MYSQLD_PACKET_ERR, errcode = 1053, sqlstate = "08S01",
            errmsg = "Server shutdown in progress" }
        proxy.connection.connection_close = true
        return proxy.PROXY_SEND_RESULT
    end
end
