-- The bench's big resultset: SELECT * FROM big returns 1,000,000 rows of
-- (id INT, name VARCHAR, val BIGINT), the same rows as MariaDB's test.big.
-- The answer is built once, kept in proxy.global, and marked cache = true
-- (understudy's extension): it is encoded once and then copied to every client.
function read_query(packet)
    if packet:sub(2) ~= "SELECT * FROM big" then return end
    if not proxy.global.big then
        local rows = {}
        for i = 1, 1000000 do
            rows[i] = { i, "row-" .. i, (i * 7919) % 100003 - 50000 }
        end
        proxy.global.big = { type = proxy.MYSQLD_PACKET_OK, cache = true, resultset = {
            fields = {
                { name = "id", type = proxy.MYSQL_TYPE_LONG },
                { name = "name", type = proxy.MYSQL_TYPE_VAR_STRING },
                { name = "val", type = proxy.MYSQL_TYPE_LONGLONG },
            },
            rows = rows } }
    end
    proxy.response = proxy.global.big
    return proxy.PROXY_SEND_RESULT
end
