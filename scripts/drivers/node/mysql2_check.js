#!/usr/bin/env node
// Driver-matrix check for node mysql2 (see scripts/drivers.sh).
//
// usage: node mysql2_check.js HOST PORT MODE      MODE = builtin | rules
//
// text-* use conn.query(sql, values): mysql2 interpolates the values itself
// (COM_QUERY); ps-* use conn.execute(sql, values): COM_STMT_PREPARE once per
// statement text per connection (mysql2 caches it), then COM_STMT_EXECUTE
// with binary parameters, binary rows. Values come back exactly as options
// say: supportBigNumbers + bigNumberStrings (BIGINT as strings), DECIMAL as
// strings (decimalNumbers off), dateStrings (DATE/DATETIME/TIMESTAMP as
// strings), binary columns as Buffers.
//
// Prints PASS|FAIL|N/A mysql2 MODE SCENARIO DETAIL, one line per scenario;
// exits 1 if any failed. env: DRIVERS_MANY (500) connections for *-many.
//
// tls runs (scripts/drivers.sh sets DRIVERS_TLS_CA and DRIVERS_TLS_PORTS):
// every connection is TLS, the server's certificate checked against the CA
// (mysql2 checks the chain by default; verifyIdentity adds the name: for an
// IP host mysql2 sends no SNI and node checks the name `localhost`, so the
// tls-* scenarios also check the certificate against HOST, the SAN IP), and
// tls-native, tls-sha2, tls-sha256, tls-clear (one per-plugin server each)
// and tls-compress follow the usual scenarios.
'use strict';
const fs = require('fs');
const tls = require('tls');
const mysql = require('mysql2/promise');

const [HOST, PORT_S, MODE] = process.argv.slice(2);
const PORT = Number(PORT_S);
const RULES = MODE === 'rules';
const MANY = Number(process.env.DRIVERS_MANY || 500);
const NAME = 'mysql2';

class Fail extends Error {}
const check = (cond, msg) => {
  if (!cond) throw new Fail(msg);
};

// tls runs only: one ssl object for every connection (mysql2 builds the
// secure context once per ssl object, not once per connection).
const TLS_CA = process.env.DRIVERS_TLS_CA || '';
const SSL = TLS_CA ? { ca: fs.readFileSync(TLS_CA), verifyIdentity: true } : null;
// "native=P sha2=P sha256=P clear=P" -> { native: P, ... }
const TLS_PORTS = Object.fromEntries((process.env.DRIVERS_TLS_PORTS || '').split(/\s+/)
  .filter((w) => w.includes('=')).map((w) => [w.slice(0, w.indexOf('=')), Number(w.slice(w.indexOf('=') + 1))]));

// extra: options over the usual ones (port, compress, auth plugins)
const connect = (extra = {}) =>
  mysql.createConnection({
    ...(SSL ? { ssl: SSL } : {}),
    host: HOST,
    port: PORT,
    user: 'drivers',
    password: 'drivers-pw',
    database: 'test',
    charset: 'utf8mb4',
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    timezone: 'Z',
    connectTimeout: 120000,
    ...extra,
  });

// A value with its type, exactly.
function canon(v) {
  if (v === null) return 'null';
  if (Buffer.isBuffer(v)) return 'buf:' + v.toString('hex');
  if (typeof v === 'string') return 'str:' + JSON.stringify(v);
  if (typeof v === 'number') return 'num:' + (Object.is(v, -0) ? '-0' : String(v));
  if (typeof v === 'bigint') return 'bigint:' + v;
  return typeof v + ':' + String(v);
}

// run(conn, ps, sql, values) -> [rows, fields]: query (text) or execute (prepared)
const run = (conn, ps, sql, values) => (ps ? conn.execute(sql, values) : conn.query(sql, values));

const T = mysql.TypedParameter;
const S = 'it\'s "quoted" \\ back\\slash, h\u00e9llo \u2713 \u{1F600}';
const B = Buffer.from([0x00, 0x01, 0x27, 0x5c, 0x22, 0xff, 0xfe]);

// [label, value bound, expected result of SELECT ?]. The built-in SELECT
// answers a text query's integers as BIGINT (strings here), decimals and
// floats (written as decimal literals) as DECIMAL (strings), strings as
// VARCHAR, bytes as VARBINARY (Buffer), dates and times as strings; a
// prepared `SELECT ?` is typed as its parameter, as MySQL does (a JS number
// is a DOUBLE parameter; a TIME comes back as mysql2 prints it, without
// trailing zeros in the fraction).
function params(ps) {
  const common = [
    ['number-int', -5, ps ? -5 : '-5'], // a JS integer: a DOUBLE parameter
    ['number-double', 1.5, ps ? 1.5 : '1.5'],
    ['number-neg', -2.25, ps ? -2.25 : '-2.25'],
    ['string', S, S],
    ['empty', '', ''],
    ['buffer', B, B],
    ['null', null, null],
    ['boolean', true, '1'],
  ];
  const date = new Date(Date.UTC(2024, 0, 31, 12, 34, 56, 789));
  if (!ps) {
    // mysql2's query() writes a Date in `timezone` with milliseconds, a
    // boolean as true (which the built-in SELECT answers as BIGINT 1), a
    // BigInt as its digits
    return common.concat([
      ['date-object', date, '2024-01-31 12:34:56.789'],
      ['bigint-min', -9223372036854775808n, '-9223372036854775808'],
      ['bigint-max-unsigned', 18446744073709551615n, '18446744073709551615'],
    ]);
  }
  // the prepared path: every binary parameter type, typed explicitly
  return common.concat([
    ['date-object', date, '2024-01-31 12:34:56.789000'], // a DATETIME parameter
    ['TINY', T.TINY(-128), '-128'],
    ['SHORT', T.SHORT(-32768), '-32768'],
    ['LONG', T.LONG(-2147483648), '-2147483648'],
    ['LONGLONG-min', T.LONGLONG(-9223372036854775808n), '-9223372036854775808'],
    ['LONGLONG-max', T.LONGLONG(9223372036854775807n), '9223372036854775807'],
    ['TINY-unsigned', T.TINY.unsigned(255), '255'],
    ['SHORT-unsigned', T.SHORT.unsigned(65535), '65535'],
    ['LONG-unsigned', T.LONG.unsigned(4294967295), '4294967295'],
    ['LONGLONG-unsigned', T.LONGLONG.unsigned(18446744073709551615n), '18446744073709551615'],
    ['FLOAT', T.FLOAT(1.5), 1.5],
    ['DOUBLE', T.DOUBLE(-2.25), -2.25],
    ['NEWDECIMAL', T.NEWDECIMAL('12345678.123456'), '12345678.123456'],
    ['NEWDECIMAL-neg', T.NEWDECIMAL('-0.000001'), '-0.000001'],
    ['VAR_STRING', T.VAR_STRING(S), S],
    ['BLOB', T.BLOB(B), B],
    ['DATE', T.DATE(new Date(Date.UTC(2024, 0, 31))), '2024-01-31'],
    ['DATETIME', T.DATETIME(new Date(Date.UTC(2024, 0, 31, 12, 34, 56, 123))), '2024-01-31 12:34:56.123000'],
    ['TIMESTAMP', T.TIMESTAMP(new Date(Date.UTC(1999, 11, 31, 23, 59, 59))), '1999-12-31 23:59:59'],
    ['TIME', T.TIME('12:34:56.789'), '12:34:56.789'],
    ['TIME-days', T.TIME('26:03:04.5'), '26:03:04.5'],
    ['TIME-neg', T.TIME('-838:59:59'), '-838:59:59'],
    ['YEAR', T.YEAR(2024), '2024'],
    ['NULL', T.NULL(), null],
  ]);
}

async function scParams(ps) {
  const c = await connect();
  const list = params(ps);
  const bad = [];
  for (const [label, value, expected] of list) {
    try {
      const [rows] = await run(c, ps, 'SELECT ?', [value]);
      const got = rows.map((r) => Object.values(r).map(canon));
      const want = [[canon(expected)]];
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        bad.push([label, `got ${JSON.stringify(got)} want ${JSON.stringify(want)}`]);
      }
    } catch (e) {
      bad.push([label, `${e.errno || ''} ${e.sqlState || ''} ${e.message}`]);
    }
  }
  await c.end();
  check(bad.length === 0, `${bad.length}/${list.length} wrong [${bad.map((b) => b[0]).join(' ')}]: `
    + bad.map((b) => `${b[0]}: ${b[1]}`).join('; '));
  return `${list.length} values via SELECT ? decoded exactly`;
}

const COLS = ['c_tiny', 'c_short', 'c_long', 'c_longlong', 'c_ulonglong', 'c_float', 'c_double',
  'c_decimal', 'c_string', 'c_blob', 'c_date', 'c_datetime', 'c_timestamp', 'c_time', 'c_year'];

function typedExpected(ps) {
  const rows = [
    [-128, -32768, -2147483648, '-9223372036854775808', '18446744073709551615', 1.5, -2.25,
      '12345678.123456', 'h\u00e9llo \u2713', Buffer.from([0, 1, 255]), '2024-01-31',
      '2024-01-31 12:34:56.123456', '1999-12-31 23:59:59', '-838:59:59.000000', 2024],
    [127, 32767, 2147483647, '9223372036854775807', '0', 0, 0, '-0.000001', '', Buffer.alloc(0),
      '1000-01-01', '1000-01-01 00:00:00.000000', '2038-01-19 03:14:07', '25:00:00.000001', 1901],
    Array(15).fill(null),
  ];
  if (ps) {
    // Binary temporals carry microseconds only when non-zero (as MySQL
    // sends them: TIME in 8 bytes, DATETIME at midnight in 4), and mysql2
    // prints a fraction only when one was sent, whatever the column's
    // decimals.
    rows[0][13] = '-838:59:59';
    rows[1][11] = '1000-01-01 00:00:00';
  }
  return rows;
}

async function scTypes(ps) {
  if (!RULES) return null;
  const c = await connect();
  const [rows, fields] = await run(c, ps, 'SELECT * FROM typed', []);
  await c.end();
  const names = fields.map((f) => f.name);
  check(JSON.stringify(names) === JSON.stringify(COLS), `columns ${names}`);
  const want = typedExpected(ps);
  check(rows.length === want.length, `${rows.length} rows, want ${want.length}`);
  const bad = [];
  rows.forEach((r, i) => {
    COLS.forEach((col, j) => {
      const g = canon(r[col]);
      const w = canon(want[i][j]);
      if (g !== w) bad.push([`${i + 1}.${col}`, `got ${g} want ${w}`]);
    });
  });
  check(bad.length === 0, `${bad.length} cells wrong [${bad.map((b) => b[0]).join(' ')}]: `
    + bad.map((b) => `${b[0]}: ${b[1]}`).join('; '));
  return `${rows.length} rows x ${names.length} columns decoded exactly`;
}

async function scOk(ps) {
  const c = await connect();
  try {
    if (RULES) {
      const [r] = await run(c, ps, 'INSERT INTO t VALUES (?)', [1]);
      check(r.affectedRows === 3 && r.insertId === 42,
        `affectedRows=${r.affectedRows} insertId=${r.insertId}, want 3, 42`);
      return `INSERT: affectedRows=${r.affectedRows} insertId=${r.insertId}`;
    }
    const v = "set 'by' \\ param \u2713";
    const [r] = await run(c, ps, 'SET @a = ?', [v]);
    check(r.affectedRows === 0, `SET affectedRows=${r.affectedRows}`);
    const [rows] = await run(c, ps, 'SELECT @a', []);
    check(rows.length === 1 && canon(rows[0]['@a']) === canon(v), `SELECT @a gave ${JSON.stringify(rows)}`);
    return 'SET @a = ? OK (affectedRows 0), SELECT @a gave it back';
  } finally {
    await c.end();
  }
}

async function scError(ps) {
  const c = await connect();
  const [q, want] = RULES
    ? ['SELECT * FROM missing', [1146, '42S02', "Table 'test.missing' doesn't exist"]]
    : ['SELECT * FROM nothing', [101, 'HY000', "I haven't learnt how to handle that query"]];
  let got = null;
  try {
    await run(c, ps, q, []);
  } catch (e) {
    got = [e.errno, e.sqlState, e.sqlMessage];
  }
  check(got !== null, `${q}: no error`);
  check(JSON.stringify(got) === JSON.stringify(want), `error ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  const [rows] = await run(c, ps, 'SELECT ?', [ps ? T.LONGLONG(7) : 7]);
  await c.end();
  check(rows.length === 1 && String(Object.values(rows[0])[0]) === '7', `after the error SELECT 7 gave ${JSON.stringify(rows)}`);
  return `${got[0]}/${got[1]}/${JSON.stringify(got[2])}; connection usable after`;
}

async function scTwice(ps) {
  const c = await connect();
  const out = [];
  const sql = RULES ? 'SELECT name FROM users WHERE id = ?' : 'SELECT ?';
  // prepared: one statement (conn.prepare), executed twice; text: query twice
  const stmt = ps ? await c.prepare(sql) : null;
  try {
    for (const i of [7, 8]) {
      const want = RULES ? `user-${i}` : String(i);
      const [rows] = ps ? await stmt.execute([T.LONG(i)]) : await c.query(sql, [i]);
      const vals = rows.map((r) => String(Object.values(r)[0]));
      check(JSON.stringify(vals) === JSON.stringify([want]), `value ${i}: ${JSON.stringify(vals)}, want ${want}`);
      out.push(vals[0]);
    }
  } finally {
    if (stmt) stmt.close();
    await c.end();
  }
  return `${ps ? `statement ${stmt.statement.id} executed twice` : 'same query twice'} -> ${out.join(', ')}`;
}

async function scMany(ps) {
  const t0 = Date.now();
  const idx = [...Array(MANY).keys()];
  // all connections open at once (Promise.all), then every one prepares and
  // executes at once, then all close
  const conns = await Promise.allSettled(idx.map(() => connect()));
  const errors = [];
  conns.forEach((r, i) => {
    if (r.status === 'rejected') errors.push(`connect #${i}: ${r.reason && r.reason.message}`);
  });
  const results = await Promise.allSettled(idx.map(async (i) => {
    if (conns[i].status !== 'fulfilled') return;
    const c = conns[i].value;
    const [sql, want] = RULES
      ? ['SELECT name FROM users WHERE id = ?', `user-${i}`]
      : ['SELECT ?', String(i)];
    const [rows] = await run(c, ps, sql, [i]);
    const vals = rows.map((r) => String(Object.values(r)[0]));
    if (JSON.stringify(vals) !== JSON.stringify([want])) {
      throw new Error(`#${i}: ${JSON.stringify(vals)} want ${want}`);
    }
  }));
  results.forEach((r, i) => {
    if (r.status === 'rejected') errors.push(`#${i}: ${r.reason && r.reason.message}`);
  });
  await Promise.allSettled(conns.filter((r) => r.status === 'fulfilled').map((r) => r.value.end()));
  const wall = ((Date.now() - t0) / 1000).toFixed(1);
  check(errors.length === 0, `${errors.length}/${MANY} failed; first: ${String(errors[0]).slice(0, 300)}`);
  return `${MANY} connections at once (Promise.all), each ${RULES ? 'users WHERE id = ?' : 'SELECT ?'} exact, ${wall}s`;
}

// The rows of SELECT * FROM big, checked: 200,000 rows, the sums of id and
// val, every name row-<id>.
function checkBig(rows) {
  let cnt = 0;
  let sumId = 0n;
  let sumVal = 0n;
  let badName = null;
  for (const r of rows) {
    cnt++;
    sumId += BigInt(r.id);
    sumVal += BigInt(r.val);
    if (badName === null && r.name !== `row-${r.id}`) badName = `id ${r.id} name ${JSON.stringify(r.name)}`;
  }
  const n = 200000n;
  let wantVal = 0n;
  for (let i = 1n; i <= n; i++) wantVal += ((i * 7919n) % 100003n) - 50000n;
  const wantId = (n * (n + 1n)) / 2n;
  check(BigInt(cnt) === n && sumId === wantId && sumVal === wantVal,
    `count/sum(id)/sum(val) ${cnt}/${sumId}/${sumVal}, want ${n}/${wantId}/${wantVal}`);
  check(badName === null, `name: ${badName}`);
  return `${cnt} rows, sum(id)=${sumId}, sum(val)=${sumVal}, names row-<id>`;
}

async function scBig(ps) {
  if (!RULES) return null;
  const c = await connect();
  const t0 = Date.now();
  const [rows] = await run(c, ps, 'SELECT * FROM big', []);
  await c.end();
  return `${checkBig(rows)}, ${((Date.now() - t0) / 1000).toFixed(1)}s`;
}

// SHOW SESSION STATUS LIKE 'NAME' -> its value ('' when there is no row)
async function sessionStatus(c, name) {
  const [rows] = await c.query(`SHOW SESSION STATUS LIKE '${name}'`);
  check(rows.length <= 1, `SHOW SESSION STATUS LIKE '${name}': ${rows.length} rows`);
  return rows.length ? String(Object.values(rows[0])[1]) : '';
}

// The tls-* scenarios' connections: an ssl object of their own, so that
// mysql2 (which keeps TLS sessions per ssl object, host and port) does a full
// handshake with the certificate in it rather than resume the session an
// earlier connection left.
const connectFresh = (extra) => connect({ ssl: { ...SSL }, ...extra });

// The session's TLS as both ends see it: mysql2's socket must be a TLS one
// from a full handshake whose certificate checked out against the CA and
// names HOST (the IP), and the server's Ssl_version and Ssl_cipher (OpenSSL's
// names, as node's getCipher().name) must be what the socket negotiated.
// -> "TLSv1.3 TLS_AES_256_GCM_SHA384"
async function tlsSession(c) {
  const sock = c.connection.stream;
  check(sock instanceof tls.TLSSocket && sock.authorized === true && !sock.isSessionReused(),
    `not a verified new TLS session (authorized=${sock.authorized}, ${sock.authorizationError || 'no TLS'}, `
    + `reused=${sock.isSessionReused && sock.isSessionReused()})`);
  const idErr = tls.checkServerIdentity(HOST, sock.getPeerCertificate());
  check(idErr === undefined, `certificate not for ${HOST}: ${idErr && idErr.message}`);
  const cipher = await sessionStatus(c, 'Ssl_cipher');
  const version = await sessionStatus(c, 'Ssl_version');
  check(cipher !== '', `Ssl_cipher empty (Ssl_version ${JSON.stringify(version)})`);
  const mine = sock.getCipher();
  check(version === sock.getProtocol() && (cipher === mine.name || cipher === mine.standardName),
    `server says ${version} ${cipher}, the socket ${sock.getProtocol()} ${mine.name}`);
  return `${version} ${cipher}`;
}

const DATABASES = Array.from({ length: 70 }, (_, i) => `db_${i + 1}`);
const TLS_PLUGINS = [['native', 'mysql_native_password'], ['sha2', 'caching_sha2_password'],
  ['sha256', 'sha256_password'], ['clear', 'mysql_clear_password']];

// tls-KEY: a login to the per-plugin server over verified TLS, then the
// built-in answers: SHOW DATABASES, the 101 error, SHOW DATABASES again.
async function scTlsPlugin(key, plugin) {
  const port = TLS_PORTS[key];
  check(port > 0, `no ${key}=PORT in DRIVERS_TLS_PORTS ${JSON.stringify(process.env.DRIVERS_TLS_PORTS)}`);
  const extra = { port };
  let how = '';
  const moreData = [];
  if (key === 'clear') {
    // mysql2 refuses the cleartext plugin unless told to allow it
    extra.enableCleartextPlugin = true;
    how = ' (enableCleartextPlugin)';
  } else if (key === 'sha2') {
    // mysql2's own plugin, wrapped to see what the server sends: after the
    // scramble, 0x04 (perform full authentication, the cold cache) and not
    // 0x03 (fast path). With a custom plugin mysql2 answers the greeting
    // with mysql_native_password and the server switches it to this one.
    const cachingSha2 = require('mysql2').authPlugins.caching_sha2_password;
    extra.authPlugins = {
      caching_sha2_password: (ctx) => {
        const inner = cachingSha2({})(ctx);
        return (data) => {
          moreData.push(Buffer.from(data).toString('hex'));
          return inner(data);
        };
      },
    };
    how = ' full auth';
  }
  const c = await connectFresh(extra);
  try {
    if (key === 'sha2') {
      check(moreData.length === 2 && moreData[1] === '04',
        moreData.length === 0
          ? 'the server accepted the login with no caching_sha2_password exchange (no AuthSwitchRequest, no 0x04): not a full authentication'
          : `auth data from the server ${JSON.stringify(moreData.map((h) => h.slice(0, 8)))}, want [scramble, 04] (full authentication)`);
    }
    const t = await tlsSession(c);
    const dbs = async (when) => {
      const [rows] = await c.query('SHOW DATABASES');
      const got = rows.map((r) => String(Object.values(r)[0]));
      check(JSON.stringify(got) === JSON.stringify(DATABASES),
        `SHOW DATABASES ${when}: ${got.length} rows ${JSON.stringify(got.slice(0, 3))}..., want db_1..db_70`);
    };
    await dbs('first');
    let err = null;
    try {
      await c.query('SELECT * FROM nothing');
    } catch (e) {
      err = [e.errno, e.sqlMessage];
    }
    const want = [101, "I haven't learnt how to handle that query"];
    check(JSON.stringify(err) === JSON.stringify(want), `SELECT * FROM nothing: error ${JSON.stringify(err)}, want ${JSON.stringify(want)}`);
    await dbs('after the error');
    return `${plugin}${how} over ${t}: 70 databases, 101 error, usable after`;
  } finally {
    await c.end();
  }
}

// tls-compress: the compressed protocol inside TLS on the main server
// (mysql2 asks for it only when the greeting offers CLIENT_COMPRESS, and
// quietly goes without otherwise: hence the Compression check), then
// SELECT * FROM big through it.
async function scTlsCompress() {
  const c = await connectFresh({ compress: true });
  try {
    const t = await tlsSession(c);
    const on = await sessionStatus(c, 'Compression');
    const algo = await sessionStatus(c, 'Compression_algorithm');
    check(on === 'ON', `Compression ${JSON.stringify(on)} (algorithm ${JSON.stringify(algo)}), want ON`);
    const t0 = Date.now();
    const [rows] = await c.query('SELECT * FROM big');
    return `Compression ON (${algo}) over ${t}: ${checkBig(rows)}, ${((Date.now() - t0) / 1000).toFixed(1)}s`;
  } finally {
    await c.end();
  }
}

const SCENARIOS = [['params', scParams], ['types', scTypes], ['ok', scOk], ['error', scError],
  ['twice', scTwice], ['many', scMany], ['big', scBig]];

async function main() {
  let ok = true;
  const runs = [];
  for (const ps of [false, true]) {
    for (const [scen, fn] of SCENARIOS) runs.push([(ps ? 'ps-' : 'text-') + scen, () => fn(ps)]);
  }
  if (SSL) {
    for (const [key, plugin] of TLS_PLUGINS) runs.push([`tls-${key}`, () => scTlsPlugin(key, plugin)]);
    runs.push(['tls-compress', scTlsCompress]);
  }
  for (const [label, fn] of runs) {
    try {
      const r = await fn();
      if (r === null) console.log(`N/A ${NAME} ${MODE} ${label} builtin mode has no such table (rules only)`);
      else console.log(`PASS ${NAME} ${MODE} ${label} ${r}`);
    } catch (e) {
      ok = false;
      const msg = e instanceof Fail ? e.message : `exception: ${e.stack || e}`.split('\n').slice(0, 2).join(' ');
      console.log(`FAIL ${NAME} ${MODE} ${label} ${msg.slice(0, 500)}`);
    }
  }
  process.exitCode = ok ? 0 : 1;
}

main();
