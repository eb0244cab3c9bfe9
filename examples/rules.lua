-- rules.lua: canned answers written as text-query rules only, which answer
-- prepared statements too. understudy prepares every statement the script
-- does not answer itself: each execution reaches read_query as a COM_QUERY
-- with the bound values substituted as SQL literals, and the resultset goes
-- out as binary rows typed by its fields. At prepare time read_query sees
-- the statement once with NULL for each `?` (proxy.statement.describe is
-- true): answering it with the right fields (and no rows) announces the
-- columns in PREPARE_OK, which libmysql-based clients (PHP mysqli, Perl
-- DBD::MariaDB, the C API) require.
--
-- Rules: SELECT * FROM typed (a column of every type), SELECT name FROM
-- users WHERE id = N, INSERT INTO t ... (3 rows, insert id 42), SELECT * FROM
-- missing (ERR 1146), SELECT * FROM big (200,000 rows), and sysbench's
-- oltp_point_select / oltp_read_only statements on sbtest tables.
-- Everything else falls through to the built-in answers.

local T = proxy

local function resultset(fields, rows)
    proxy.response = { type = T.MYSQLD_PACKET_OK, resultset = { fields = fields, rows = rows } }
    return T.PROXY_SEND_RESULT
end

local function ok(affected, insert_id)
    proxy.response = { type = T.MYSQLD_PACKET_OK, affected_rows = affected, insert_id = insert_id }
    return T.PROXY_SEND_RESULT
end

local function err(code, state, msg)
    proxy.response = { type = T.MYSQLD_PACKET_ERR, errcode = code, sqlstate = state, errmsg = msg }
    return T.PROXY_SEND_RESULT
end

-- at prepare time (describe) only the fields matter: no rows
local function describing()
    return proxy.statement ~= nil and proxy.statement.describe
end

local UNSIGNED = 32
local ZEROFILL = 64 -- MySQL flags YEAR columns UNSIGNED ZEROFILL
local BINARY_FLAG = 128

local typed_fields = {
    { name = "c_tiny", type = T.MYSQL_TYPE_TINY, length = 4 },
    { name = "c_short", type = T.MYSQL_TYPE_SHORT, length = 6 },
    { name = "c_long", type = T.MYSQL_TYPE_LONG, length = 11 },
    { name = "c_longlong", type = T.MYSQL_TYPE_LONGLONG, length = 20 },
    { name = "c_ulonglong", type = T.MYSQL_TYPE_LONGLONG, length = 20, flags = UNSIGNED },
    { name = "c_float", type = T.MYSQL_TYPE_FLOAT, length = 12, decimals = 31 },
    { name = "c_double", type = T.MYSQL_TYPE_DOUBLE, length = 22, decimals = 31 },
    { name = "c_decimal", type = T.MYSQL_TYPE_NEWDECIMAL, length = 22, decimals = 6 },
    { name = "c_string", type = T.MYSQL_TYPE_VAR_STRING, charsetnr = 45, length = 256 },
    { name = "c_blob", type = T.MYSQL_TYPE_BLOB, charsetnr = 63, length = 65535, flags = BINARY_FLAG },
    { name = "c_date", type = T.MYSQL_TYPE_DATE, length = 10 },
    { name = "c_datetime", type = T.MYSQL_TYPE_DATETIME, length = 26, decimals = 6 },
    { name = "c_timestamp", type = T.MYSQL_TYPE_TIMESTAMP, length = 19 },
    { name = "c_time", type = T.MYSQL_TYPE_TIME, length = 17, decimals = 6 },
    { name = "c_year", type = T.MYSQL_TYPE_YEAR, length = 4, flags = UNSIGNED + ZEROFILL },
}

local typed_rows = {
    { "-128", "-32768", "-2147483648", "-9223372036854775808", "18446744073709551615",
      "1.5", "-2.25", "12345678.123456", "h\195\169llo \226\156\147", "\000\001\255",
      "2024-01-31", "2024-01-31 12:34:56.123456", "1999-12-31 23:59:59", "-838:59:59.000000", "2024" },
    { "127", "32767", "2147483647", "9223372036854775807", "0",
      "0", "0", "-0.000001", "", "",
      "1000-01-01", "1000-01-01 00:00:00.000000", "2038-01-19 03:14:07", "25:00:00.000001", "1901" },
    { nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil },
}

local function big()
    local rows = {}
    if not describing() then
        for i = 1, 200000 do
            rows[i] = { i, "row-" .. i, (i * 7919) % 100003 - 50000 }
        end
    end
    return resultset({
        { name = "id", type = T.MYSQL_TYPE_LONG, length = 11 },
        { name = "name", type = T.MYSQL_TYPE_VAR_STRING, charsetnr = 45, length = 128 },
        { name = "val", type = T.MYSQL_TYPE_LONGLONG, length = 20 },
    }, rows)
end

-- sysbench: the c column of a row, 119 characters as sysbench fills it
local function c_of(id)
    return string.format("%011d-%011d-%011d-%011d-%011d-%011d-%011d-%011d-%011d-%011d",
        id, id + 1, id + 2, id + 3, id + 4, id + 5, id + 6, id + 7, id + 8, id + 9)
end

local c_field = { { name = "c", type = T.MYSQL_TYPE_STRING, charsetnr = 45, length = 480 } }

local function range(a, b)
    a, b = tonumber(a), tonumber(b)
    if not a or not b or b < a then return {} end
    if b - a > 10000 then b = a + 10000 end
    local rows = {}
    for id = a, b do rows[#rows + 1] = { c_of(id) } end
    return rows
end

function read_query(packet)
    if packet:byte() ~= T.COM_QUERY then return end
    local q = packet:sub(2)
    local describe = describing()
    if q == "SELECT * FROM typed" then
        return resultset(typed_fields, describe and {} or typed_rows)
    end
    local id = q:match("^SELECT name FROM users WHERE id = (%S+)$")
    if id then
        local n = tonumber(id)
        return resultset({ { name = "name", type = T.MYSQL_TYPE_VAR_STRING, charsetnr = 45, length = 128 } },
            n and { { "user-" .. string.format("%d", n) } } or {})
    end
    if q:match("^INSERT INTO t ") then return ok(3, 42) end
    if q == "SELECT * FROM missing" then
        return err(1146, "42S02", "Table 'test.missing' doesn't exist")
    end
    if q == "SELECT * FROM big" then return big() end
    -- sysbench oltp_point_select / oltp_read_only
    local n = q:match("^SELECT c FROM sbtest%d+ WHERE id=(%S+)$")
    if n then
        local k = tonumber(n)
        return resultset(c_field, k and { { c_of(k) } } or {})
    end
    local a, b = q:match("^SELECT c FROM sbtest%d+ WHERE id BETWEEN (%S+) AND (%S+)")
    if a then
        return resultset(c_field, range(a, b))
    end
    a, b = q:match("^SELECT DISTINCT c FROM sbtest%d+ WHERE id BETWEEN (%S+) AND (%S+)")
    if a then
        return resultset(c_field, range(a, b))
    end
    a, b = q:match("^SELECT SUM%(k%) FROM sbtest%d+ WHERE id BETWEEN (%S+) AND (%S+)")
    if a then
        local x, y = tonumber(a), tonumber(b)
        return resultset({ { name = "SUM(k)", type = T.MYSQL_TYPE_NEWDECIMAL, length = 32 } },
            { { (x and y and y >= x) and tostring((y - x + 1) * 5000) or nil } })
    end
end
