-- Login checks with mysql.password: accept only the accounts listed here.
-- Run: understudy --lua-script examples/login_check.lua
--   mariadb -h 127.0.0.1 -P 4040 -u app -papp-secret

local password = require("mysql.password")

local accounts = {
    app = password.hash(password.hash("app-secret")),       -- what MySQL stores: SHA1(SHA1(pw))
    readonly = password.hash(password.hash("ro")),
}

function read_auth()
    local c = proxy.connection.client
    local stored = accounts[c.username]
    if stored and c.auth_plugin_name ~= "caching_sha2_password"
       and password.check(c.scramble_buffer, c.scrambled_password, stored) then
        proxy.response = { type = proxy.MYSQLD_PACKET_OK }
    else
        proxy.response = { type = proxy.MYSQLD_PACKET_ERR, errcode = 1045, sqlstate = "28000",
            errmsg = "Access denied for user '" .. c.username .. "'@'" .. c.src.address .. "' (using password: YES)" }
    end
    return proxy.PROXY_SEND_RESULT
end
