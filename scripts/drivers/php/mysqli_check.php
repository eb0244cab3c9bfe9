<?php
// Driver-matrix check for PHP mysqli (mysqlnd) prepared statements (see
// scripts/drivers.sh).
//
// usage: php mysqli_check.php HOST PORT MODE      MODE = builtin | rules
//
// ps-* only: $mysqli->prepare (COM_STMT_PREPARE: mysqlnd keeps the column
// count announced there and refuses an execution whose resultset differs),
// bind_param (i = LONGLONG, d = DOUBLE, s = VAR_STRING, b = a BLOB sent with
// send_long_data, i.e. COM_STMT_SEND_LONG_DATA), execute, then get_result or
// bind_result/fetch. mysqli has no client-side parameters, so there are no
// text-* scenarios here.
//
// ps-many: 500 processes (pcntl_fork after this script is loaded, so they
// share its pages), each with its own connection: all connect and prepare,
// wait at a barrier (a pipe the parent closes), then all execute at once.
//
// tls runs (DRIVERS_TLS_CA set): every connection is TLS (MYSQLI_CLIENT_SSL)
// with the server certificate verified against DRIVERS_TLS_CA: with
// MYSQLI_OPT_SSL_VERIFY_SERVER_CERT mysqlnd has PHP's stream layer check the
// chain and the peer name, HOST itself (127.0.0.1, against the certificate's
// IP SAN), so a wrong CA or a certificate for another name fails the login.
// After the ps-* scenarios: tls-native, tls-sha2, tls-sha256, tls-clear log
// in over TLS to DRIVERS_TLS_PORTS' one-plugin servers (built-in answers;
// mysqlnd has all four plugins built in, mysql_clear_password allowed
// without an option) and tls-compress adds MYSQLI_CLIENT_COMPRESS on the
// main port.
//
// Prints PASS|FAIL|N/A mysqli MODE SCENARIO DETAIL; exits 1 if any failed.
// env: DRIVERS_MANY (500), DRIVERS_TLS_CA, DRIVERS_TLS_PORTS (tls runs only).

[$_, $HOST, $PORT, $MODE] = $argv + [null, null, null, null];
$PORT = (int)$PORT;
$RULES = $MODE === 'rules';
$MANY = (int)(getenv('DRIVERS_MANY') ?: 500);
$TLS_CA = getenv('DRIVERS_TLS_CA') ?: null;
// "native=P sha2=P sha256=P clear=P" -> ['native' => 'P', ...]
$TLS_PORTS = [];
foreach (preg_split('/\s+/', (string)getenv('DRIVERS_TLS_PORTS'), -1, PREG_SPLIT_NO_EMPTY) as $kv) {
    [$k, $v] = explode('=', $kv, 2) + [1 => ''];
    $TLS_PORTS[$k] = $v;
}
const NAME = 'mysqli';

mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);

class Fail extends Exception {}
function check($cond, $msg) { if (!$cond) throw new Fail($msg); }

// $port: another server's (tls-*); $readTimeout: the tls-* logins use a
// shorter one, so a login the client waits on forever ends as this
// scenario's FAIL, not the whole run's time limit.
function connect($port = null, $compress = false, $readTimeout = 120) {
    global $HOST, $PORT, $TLS_CA;
    $m = mysqli_init();
    $m->options(MYSQLI_OPT_CONNECT_TIMEOUT, 120);
    $m->options(MYSQLI_OPT_READ_TIMEOUT, $readTimeout);
    $flags = 0;
    if ($TLS_CA !== null) {
        // verified, not just encrypted: the chain against the run's CA and
        // the certificate's names against HOST
        $m->options(MYSQLI_OPT_SSL_VERIFY_SERVER_CERT, true);
        $m->ssl_set(null, null, $TLS_CA, null, null);
        $flags |= MYSQLI_CLIENT_SSL;
    }
    if ($compress) $flags |= MYSQLI_CLIENT_COMPRESS;
    $m->real_connect($HOST, 'drivers', 'drivers-pw', 'test', $port ?? $PORT, null, $flags);
    $m->set_charset('utf8mb4');
    return $m;
}

// A value with its PHP type, exactly; $t is the column's type code.
function canon($v, $t = null) {
    $p = $t === null ? '' : "t$t:";
    if ($v === null) return $p . 'NULL';
    if (is_int($v)) return $p . "int:$v";
    if (is_float($v)) return $p . 'float:' . var_export($v, true);
    if (is_string($v)) return $p . 'str:' . bin2hex($v);
    return $p . gettype($v) . ':' . var_export($v, true);
}

// "label: detail; ..." of a label => detail map
function summary($bad) {
    return implode('; ', array_map(fn($k, $v) => "$k: $v", array_keys($bad), $bad));
}

// MySQL column type codes
const LONGLONG = 8; const DOUBLE = 5; const VAR_STRING = 253; const NULLT = 6;

// SELECT ? with one bound value; returns [type code, value] of the one cell
function select_one($m, $type, $value, $long = null) {
    $st = $m->prepare('SELECT ?');
    if ($long !== null) {
        $null = null;
        $st->bind_param('b', $null);
        foreach (str_split($long, 3) as $chunk) $st->send_long_data(0, $chunk);
    } else {
        $st->bind_param($type, $value);
    }
    $st->execute();
    $res = $st->get_result();
    $f = $res->fetch_fields();
    $rows = $res->fetch_all(MYSQLI_NUM);
    $st->close();
    check(count($rows) === 1 && count($f) === 1, 'rows ' . json_encode(count($rows)));
    return canon($rows[0][0], $f[0]->type);
}

function sc_params() {
    $S = "it's \"quoted\" \\ back\\slash, h\u{e9}llo \u{2713} \u{1F600}";
    $B = "\x00\x01'\\\"\xff\xfe";
    // [label, bind type, value, expected column type, expected value]. A
    // prepared `SELECT ?` of the built-in answers is typed as its parameter,
    // as MySQL does: i = BIGINT, d = DOUBLE, s = VARCHAR (VARBINARY when
    // not UTF-8), b = VARBINARY; mysqli binds dates, decimals and big
    // unsigned numbers as strings.
    $cases = [
        ['int-min', 'i', PHP_INT_MIN, LONGLONG, PHP_INT_MIN],
        ['int-max', 'i', PHP_INT_MAX, LONGLONG, PHP_INT_MAX],
        ['int-small', 'i', -5, LONGLONG, -5],
        ['double', 'd', 1.5, DOUBLE, 1.5],
        ['double-neg', 'd', -2.25, DOUBLE, -2.25],
        ['string', 's', $S, VAR_STRING, $S],
        ['empty', 's', '', VAR_STRING, ''],
        ['bytes-as-s', 's', $B, VAR_STRING, $B],
        ['decimal-as-s', 's', '12345678.123456', VAR_STRING, '12345678.123456'],
        ['u64-as-s', 's', '18446744073709551615', VAR_STRING, '18446744073709551615'],
        ['date-as-s', 's', '2024-01-31', VAR_STRING, '2024-01-31'],
        ['datetime-as-s', 's', '2024-01-31 12:34:56.123456', VAR_STRING, '2024-01-31 12:34:56.123456'],
        ['time-as-s', 's', '-838:59:59', VAR_STRING, '-838:59:59'],
        ['null-i', 'i', null, NULLT, null],
        ['null-s', 's', null, NULLT, null],
    ];
    $m = connect();
    $bad = [];
    foreach ($cases as [$label, $t, $v, $wt, $wv]) {
        try {
            $got = select_one($m, $t, $v);
            if ($got !== canon($wv, $wt)) $bad[$label] = "got $got want " . canon($wv, $wt);
        } catch (mysqli_sql_exception $e) {
            $bad[$label] = "{$e->getCode()} {$e->getSqlState()} {$e->getMessage()}";
        }
    }
    // a BLOB in pieces: COM_STMT_SEND_LONG_DATA x3, then EXECUTE
    try {
        $got = select_one($m, 'b', null, $B);
        if ($got !== canon($B, VAR_STRING)) $bad['blob-long-data'] = "got $got want " . canon($B, VAR_STRING);
    } catch (mysqli_sql_exception $e) {
        $bad['blob-long-data'] = "{$e->getCode()} {$e->getSqlState()} {$e->getMessage()}";
    }
    $m->close();
    $n = count($cases) + 1;
    check(!$bad, count($bad) . "/$n wrong [" . implode(' ', array_keys($bad)) . ']: ' . summary($bad));
    return "$n values via SELECT ? (i, d, s, b with send_long_data, NULL) decoded exactly";
}

const COLS = ['c_tiny', 'c_short', 'c_long', 'c_longlong', 'c_ulonglong', 'c_float', 'c_double',
    'c_decimal', 'c_string', 'c_blob', 'c_date', 'c_datetime', 'c_timestamp', 'c_time', 'c_year'];

function sc_types() {
    global $RULES;
    if (!$RULES) return null;
    // mysqlnd's binary decoding: integers as int (an unsigned BIGINT beyond
    // PHP_INT_MAX as its digits), FLOAT/DOUBLE as float, DECIMAL as digits,
    // dates and times as MySQL's text with the column's decimals.
    $want = [
        [-128, -32768, -2147483648, PHP_INT_MIN, '18446744073709551615', 1.5, -2.25,
         '12345678.123456', "h\u{e9}llo \u{2713}", "\x00\x01\xff", '2024-01-31',
         // YEAR is UNSIGNED ZEROFILL, as MySQL flags it: mysqlnd gives ZEROFILL columns as strings
         '2024-01-31 12:34:56.123456', '1999-12-31 23:59:59', '-838:59:59.000000', '2024'],
        [127, 32767, 2147483647, PHP_INT_MAX, 0, 0.0, 0.0, '-0.000001', '', '', '1000-01-01',
         '1000-01-01 00:00:00.000000', '2038-01-19 03:14:07', '25:00:00.000001', '1901'],
        array_fill(0, 15, null),
    ];
    $m = connect();
    $st = $m->prepare('SELECT * FROM typed');
    // the columns announced at prepare (PREPARE_OK's definitions)
    check($st->field_count === 15, "field_count at prepare {$st->field_count}");
    $meta = $st->result_metadata();
    $at_prepare = array_map(fn($f) => "$f->name/$f->type", $meta->fetch_fields());
    $meta->free();
    $st->execute();
    $res = $st->get_result();
    $at_execute = array_map(fn($f) => "$f->name/$f->type", $res->fetch_fields());
    check($at_prepare === $at_execute, 'columns at prepare ' . implode(',', $at_prepare)
        . ' differ from the execution\'s ' . implode(',', $at_execute));
    $names = array_map(fn($f) => $f->name, $res->fetch_fields());
    $rows = $res->fetch_all(MYSQLI_NUM);
    $st->close();
    $m->close();
    check($names === COLS, 'columns ' . implode(',', $names));
    check(count($rows) === 3, count($rows) . ' rows');
    $bad = [];
    foreach ($rows as $i => $r) {
        foreach ($r as $j => $v) {
            if (canon($v) !== canon($want[$i][$j])) {
                $bad[($i + 1) . '.' . COLS[$j]] = 'got ' . canon($v) . ' want ' . canon($want[$i][$j]);
            }
        }
    }
    check(!$bad, count($bad) . ' cells wrong [' . implode(' ', array_keys($bad)) . ']: ' . summary($bad));
    return '3 rows x 15 columns decoded exactly (the same 15 names and types announced at prepare)';
}

function sc_ok() {
    global $RULES;
    $m = connect();
    if ($RULES) {
        $st = $m->prepare('INSERT INTO t VALUES (?)');
        $one = 1;
        $st->bind_param('i', $one);
        $st->execute();
        [$a, $id] = [$st->affected_rows, $st->insert_id];
        $st->close();
        $m->close();
        check($a === 3 && $id === 42, "affected_rows=$a insert_id=$id, want 3, 42");
        return "INSERT: affected_rows=$a insert_id=$id";
    }
    $v = "set 'by' \\ param \u{2713}";
    $st = $m->prepare('SET @a = ?');
    $st->bind_param('s', $v);
    $st->execute();
    $a = $st->affected_rows;
    $st->close();
    $st = $m->prepare('SELECT @a');
    $st->execute();
    $st->bind_result($got);
    $n = 0;
    while ($st->fetch()) $n++;
    $st->close();
    $m->close();
    check($a === 0, "SET affected_rows=$a");
    check($n === 1 && $got === $v, "SELECT @a gave $n rows " . var_export($got, true));
    return 'SET @a = ? OK (affected_rows 0), SELECT @a gave it back (bind_result)';
}

function sc_error() {
    global $RULES;
    [$q, $want] = $RULES
        ? ['SELECT * FROM missing', [1146, '42S02', "Table 'test.missing' doesn't exist"]]
        : ['SELECT * FROM nothing', [101, 'HY000', "I haven't learnt how to handle that query"]];
    $m = connect();
    $got = null;
    $where = '';
    try {
        $st = $m->prepare($q);
        $where = 'execute';
        $st->execute();
        $st->get_result();
    } catch (mysqli_sql_exception $e) {
        $got = [$e->getCode(), $e->getSqlState(), $e->getMessage()];
        $where = $where ?: 'prepare';
    }
    check($got !== null, "$q: no error");
    check($got === $want, 'error ' . json_encode($got) . ', want ' . json_encode($want));
    $after = select_one($m, 'i', 7);
    $m->close();
    check($after === canon(7, LONGLONG), "after the error SELECT ? (7) gave $after");
    return "{$got[0]}/{$got[1]}/\"{$got[2]}\" at $where; connection usable after";
}

function sc_twice() {
    global $RULES;
    $m = connect();
    $st = $m->prepare($RULES ? 'SELECT name FROM users WHERE id = ?' : 'SELECT ?');
    $id = 0;
    $st->bind_param('i', $id);
    $out = [];
    foreach ([7, 8] as $id) {
        $st->execute();
        $st->bind_result($v);
        $vals = [];
        while ($st->fetch()) $vals[] = $v;
        $want = $RULES ? ["user-$id"] : [$id];
        check($vals === $want, "value $id: " . json_encode($vals) . ', want ' . json_encode($want));
        $out[] = $vals[0];
    }
    $st->close();
    $m->close();
    return 'one statement executed twice -> ' . implode(', ', $out);
}

function sc_many() {
    global $RULES, $MANY;
    $t0 = microtime(true);
    // ready: children -> parent, one byte each; go: the parent closes its end
    // and every child's read returns; results: one line per child
    [$readyR, $readyW] = stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, 0);
    [$goR, $goW] = stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, 0);
    [$resR, $resW] = stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, 0);
    $pids = [];
    for ($i = 0; $i < $MANY; $i++) {
        $pid = pcntl_fork();
        if ($pid === -1) break;
        if ($pid === 0) {
            fclose($readyR); fclose($goW); fclose($resR);
            $line = "ok $i";
            try {
                $m = connect();
                $st = $m->prepare($RULES ? 'SELECT name FROM users WHERE id = ?' : 'SELECT ?');
                $st->bind_param('i', $i);
                fwrite($readyW, 'r');
                fread($goR, 1); // EOF once the parent closes its end
                $st->execute();
                $res = $st->get_result();
                $rows = $res->fetch_all(MYSQLI_NUM);
                $want = $RULES ? [["user-$i"]] : [[$i]];
                if ($rows !== $want) $line = "bad #$i: " . json_encode($rows);
                $st->close();
                $m->close();
            } catch (Throwable $e) {
                fwrite($readyW, 'r');
                $line = "bad #$i: " . get_class($e) . ' ' . $e->getMessage();
            }
            fwrite($resW, substr(str_replace("\n", ' ', $line), 0, 300) . "\n");
            posix_kill(getmypid(), SIGKILL); // no PHP shutdown in the child
        }
        $pids[] = $pid;
    }
    fclose($readyW); fclose($goR); fclose($resW);
    $forked = count($pids);
    $ready = 0;
    stream_set_timeout($readyR, 180);
    while ($ready < $forked) {
        $b = fread($readyR, $forked - $ready);
        if ($b === '' || $b === false) break;
        $ready += strlen($b);
    }
    fclose($goW); // go
    stream_set_timeout($resR, 180);
    $ok = 0;
    $bad = [];
    while (($line = fgets($resR)) !== false) {
        if (str_starts_with($line, 'ok ')) $ok++; else $bad[] = trim($line);
    }
    foreach ($pids as $p) pcntl_waitpid($p, $status);
    $wall = round(microtime(true) - $t0, 1);
    check($forked === $MANY, "forked $forked of $MANY");
    check($ok === $MANY, "$ok/$MANY ok, ready $ready; first: " . ($bad[0] ?? 'no result'));
    $what = $RULES ? 'users WHERE id = ?' : 'SELECT ?';
    return "$MANY processes (pcntl_fork), each its own connection, all prepared before a barrier, then $what at once, exact, {$wall}s";
}

function sc_big() {
    global $RULES;
    if (!$RULES) return null;
    $t0 = microtime(true);
    $m = connect();
    $r = big_rows($m);
    $m->close();
    return $r . ', ' . round(microtime(true) - $t0, 1) . 's';
}

// SELECT * FROM big on $m, prepared, every row checked: its detail
function big_rows($m) {
    $st = $m->prepare('SELECT * FROM big');
    $st->execute();
    // unbuffered: rows decoded one by one as fetch() reads them
    $st->bind_result($id, $name, $val);
    $cnt = $sid = $sval = 0;
    $badName = null;
    while ($st->fetch()) {
        $cnt++;
        $sid += $id;
        $sval += $val;
        if ($badName === null && $name !== "row-$id") $badName = "id $id name " . var_export($name, true);
    }
    $st->close();
    $wantVal = 0;
    for ($i = 1; $i <= 200000; $i++) $wantVal += ($i * 7919) % 100003 - 50000;
    check([$cnt, $sid, $sval] === [200000, 20000100000, $wantVal],
        "count/sum(id)/sum(val) $cnt/$sid/$sval, want 200000/20000100000/$wantVal");
    check($badName === null, "name: $badName");
    return "$cnt rows (bind_result, unbuffered), sum(id)=$sid, sum(val)=$sval, names row-<id>";
}

// SHOW SESSION STATUS LIKE $like as name => value
function status_of($m, $like) {
    $r = $m->query("SHOW SESSION STATUS LIKE '$like'");
    $out = array_column($r->fetch_all(MYSQLI_NUM), 1, 0);
    $r->free();
    return $out;
}

// The TLS session the server reports: "TLSv1.3 TLS_AES_256_GCM_SHA384"
function tls_session($m) {
    $s = status_of($m, 'Ssl_version') + status_of($m, 'Ssl_cipher');
    check(($s['Ssl_cipher'] ?? '') !== '', 'Ssl_cipher empty: ' . json_encode($s));
    return ($s['Ssl_version'] ?? '?') . ' ' . $s['Ssl_cipher'];
}

function show_databases($m) {
    $r = $m->query('SHOW DATABASES');
    $dbs = array_column($r->fetch_all(MYSQLI_NUM), 0);
    $r->free();
    return $dbs;
}

// tls-native/-sha2/-sha256/-clear: a verified TLS login to the server of
// one auth plugin (DRIVERS_TLS_PORTS' $key), then the seed's answers of the
// built-in server.
function sc_tls_plugin($key, $how) {
    global $TLS_PORTS;
    $port = (int)($TLS_PORTS[$key] ?? 0);
    check($port > 0, "DRIVERS_TLS_PORTS has no $key= port: " . json_encode($TLS_PORTS));
    try {
        $m = connect($port, false, 30);
    } catch (mysqli_sql_exception $e) {
        throw new Fail("login ($how, port $port, read timeout 30s): {$e->getCode()} {$e->getMessage()}");
    }
    $tls = tls_session($m);
    $want = array_map(fn($i) => "db_$i", range(1, 70));
    $dbs = show_databases($m);
    check($dbs === $want, 'SHOW DATABASES gave ' . count($dbs) . ' rows: ' . substr(implode(',', $dbs), 0, 200));
    $got = null;
    try {
        $m->query('SELECT * FROM nothing');
    } catch (mysqli_sql_exception $e) {
        $got = [$e->getCode(), $e->getSqlState(), $e->getMessage()];
    }
    $err = [101, 'HY000', "I haven't learnt how to handle that query"];
    check($got === $err, 'SELECT * FROM nothing: ' . json_encode($got) . ', want ' . json_encode($err));
    // usable after: COM_INIT_DB gets OK, the databases once more
    check($m->select_db('db_1') === true, 'select_db after the error failed');
    $again = show_databases($m);
    $m->close();
    check($again === $want, 'SHOW DATABASES after the error gave ' . count($again) . ' rows');
    return "$how over $tls: 70 databases, 101 error, usable after (select_db OK, SHOW DATABASES again)";
}

// tls-compress: the compressed protocol inside TLS on the main port, and
// the big resultset through it
function sc_tls_compress() {
    $t0 = microtime(true);
    $m = connect(null, true);
    $tls = tls_session($m);
    $c = status_of($m, 'Compression%');
    check(($c['Compression'] ?? '') === 'ON', 'Compression not ON: ' . json_encode($c));
    $r = big_rows($m);
    $m->close();
    $alg = $c['Compression_algorithm'] ?? '?';
    return "MYSQLI_CLIENT_COMPRESS over $tls: Compression ON ($alg); $r, " . round(microtime(true) - $t0, 1) . 's';
}

// label => scenario; the tls-* ones in tls runs only, after the others
$scenarios = [];
foreach (['params', 'types', 'ok', 'error', 'twice', 'many', 'big'] as $scen) $scenarios["ps-$scen"] = "sc_$scen";
if ($TLS_CA !== null) {
    $scenarios += [
        'tls-native' => fn() => sc_tls_plugin('native', 'mysql_native_password'),
        // the sha2 server's cache is cold: every login is a full authentication
        'tls-sha2' => fn() => sc_tls_plugin('sha2', 'caching_sha2_password full auth'),
        'tls-sha256' => fn() => sc_tls_plugin('sha256', 'sha256_password'),
        'tls-clear' => fn() => sc_tls_plugin('clear', 'mysql_clear_password'),
        'tls-compress' => 'sc_tls_compress',
    ];
}
$ok = true;
foreach ($scenarios as $label => $fn) {
    try {
        $r = $fn();
        if ($r === null) echo "N/A " . NAME . " $MODE $label builtin mode has no such table (rules only)\n";
        else echo "PASS " . NAME . " $MODE $label $r\n";
    } catch (Fail $e) {
        $ok = false;
        echo "FAIL " . NAME . " $MODE $label " . substr($e->getMessage(), 0, 500) . "\n";
    } catch (Throwable $e) {
        $ok = false;
        echo "FAIL " . NAME . " $MODE $label exception " . get_class($e) . ' ' . $e->getCode() . ': '
            . substr(str_replace("\n", ' ', $e->getMessage()), 0, 400) . "\n";
    }
}
exit($ok ? 0 : 1);
