// check.go: go-sql-driver/mysql (Debian's golang-github-go-sql-driver-mysql-dev,
// built in GOPATH mode) against understudy.
//
// usage: check HOST PORT MODE     MODE = builtin | rules
//
// Prints one line per scenario: "PASS|FAIL|N/A go-sql-driver MODE SCENARIO detail".
// Exit status 1 when any scenario failed.
//
// ps-* use server-side prepared statements: db.Prepare + stmt.Query/Exec, and
// db.Query with arguments (the driver prepares, executes and closes). text-*
// use interpolateParams=true (the driver substitutes client-side and sends a
// COM_QUERY) and db.Query without arguments.
//
// tls runs (scripts/drivers.sh sets DRIVERS_TLS_CA and DRIVERS_TLS_PORTS):
// every connection has tls=understudy-ca, a config registered with
// mysql.RegisterTLSConfig whose RootCAs is the CA alone and ServerName is HOST
// (an IP: crypto/tls checks it against the certificate's IP SANs), and
// tls-native, tls-sha2, tls-sha256, tls-clear (one per-plugin server each)
// and tls-compress follow the usual scenarios.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

const driverName = "go-sql-driver"

var host, port, mode string

type naError string

func (e naError) Error() string { return string(e) }

// tls runs only: the CA file, "native=P sha2=P ..." as a map, and the name of
// the TLS config every ordinary connection uses ("" otherwise: no tls=).
var tlsCA = os.Getenv("DRIVERS_TLS_CA")
var tlsPorts = map[string]string{}
var mainTLS string
var mainTLSErr error // registering mainTLS failed: every open says so

// dsnAt: the DSN for PORT with TLS config tlsName ("" none).
func dsnAt(port, tlsName, extra string) string {
	d := fmt.Sprintf("u:p@tcp(%s:%s)/test?timeout=20s&readTimeout=60s&writeTimeout=60s", host, port)
	if tlsName != "" {
		d += "&tls=" + tlsName
	}
	if extra != "" {
		d += "&" + extra
	}
	return d
}

func dsn(extra string) string { return dsnAt(port, mainTLS, extra) }

func open(extra string) (*sql.DB, error) {
	if mainTLSErr != nil {
		return nil, mainTLSErr
	}
	return openDSN(dsn(extra))
}

func openDSN(d string) (*sql.DB, error) {
	db, err := sql.Open("mysql", d)
	if err != nil {
		return nil, err
	}
	db.SetConnMaxLifetime(0)
	return db, nil
}

// registerTLS registers tls=NAME: verified against DRIVERS_TLS_CA only, for
// the name HOST. onVerified (if not nil) sees every handshake that passed
// that verification (crypto/tls calls VerifyConnection after it).
func registerTLS(name string, onVerified func(tls.ConnectionState)) error {
	pem, err := os.ReadFile(tlsCA)
	if err != nil {
		return fmt.Errorf("DRIVERS_TLS_CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("DRIVERS_TLS_CA %s: no PEM certificate in it", tlsCA)
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: host}
	if onVerified != nil {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			onVerified(cs)
			return nil
		}
	}
	return mysql.RegisterTLSConfig(name, cfg)
}

// canon renders a decoded value with its Go type so that comparisons are exact.
func canon(v interface{}) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case int64:
		return "int64:" + strconv.FormatInt(x, 10)
	case uint64:
		return "uint64:" + strconv.FormatUint(x, 10)
	case float32:
		return "float32:" + strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		return "float64:" + strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return fmt.Sprintf("bool:%v", x)
	case []byte:
		return fmt.Sprintf("bytes:%q", x)
	case string:
		return fmt.Sprintf("string:%q", x)
	case time.Time:
		return "time:" + x.Format("2006-01-02 15:04:05.999999999 MST")
	}
	return fmt.Sprintf("%T:%v", v, v)
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...interface{}) (*sql.Rows, error)
}

// readAll returns column database type names, column names and rows rendered by canon.
func readAll(rows *sql.Rows) (types []string, names []string, out [][]string, err error) {
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		return nil, nil, nil, err
	}
	for _, ct := range cts {
		types = append(types, ct.DatabaseTypeName())
		names = append(names, ct.Name())
	}
	for rows.Next() {
		vals := make([]interface{}, len(cts))
		ptrs := make([]interface{}, len(cts))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, nil, err
		}
		r := make([]string, len(vals))
		for i, v := range vals {
			r[i] = canon(v)
		}
		out = append(out, r)
	}
	return types, names, out, rows.Err()
}

// one value of `SELECT ?`: "TYPE canon"
func selectOne(ctx context.Context, q querier, stmt *sql.Stmt, arg interface{}) (string, error) {
	var rows *sql.Rows
	var err error
	if stmt != nil {
		rows, err = stmt.QueryContext(ctx, arg)
	} else {
		rows, err = q.QueryContext(ctx, "SELECT ?", arg)
	}
	if err != nil {
		return "", err
	}
	types, _, out, err := readAll(rows)
	if err != nil {
		return "", err
	}
	if len(types) != 1 || len(out) != 1 {
		return "", fmt.Errorf("%d columns, %d rows", len(types), len(out))
	}
	return types[0] + " " + out[0][0], nil
}

type param struct {
	name string
	arg  interface{}
	want string // "TYPE canon" as the built-in SELECT answers the substituted literal
}

var longText = strings.Repeat("long ✓ 'q' \\ ", 250) // 3,750 bytes: over longDataSize below

func params(text bool) []param {
	ps := []param{
		{"int64-max", int64(9223372036854775807), "BIGINT int64:9223372036854775807"},
		{"int64-min", int64(-9223372036854775808), "BIGINT int64:-9223372036854775808"},
		{"int32-neg", int32(-2147483648), "BIGINT int64:-2147483648"},
		{"int8", int8(-128), "BIGINT int64:-128"},
		{"uint64-max", uint64(18446744073709551615), "BIGINT bytes:\"18446744073709551615\""},
		{"uint64-small", uint64(42), "BIGINT int64:42"},
		{"bool", true, "BIGINT int64:1"},
		// a DOUBLE parameter is substituted as a decimal literal, which the
		// built-in SELECT answers as DECIMAL: any text that parses back to
		// exactly the bound value passes (or a DOUBLE column of that value)
		{"float64", float64(-2.25), "float"},
		{"float64-tenth", float64(0.1), "float"},
		{"float64-big", float64(1e300), "float"},
		{"float64-small", float64(1.25e-7), "float"},
		{"float32", float32(1.5), "float"},
		{"string", "it's \"quoted\" \\ back\\slash héllo ✓ 😀", "VARCHAR bytes:\"it's \\\"quoted\\\" \\\\ back\\\\slash héllo ✓ 😀\""},
		{"string-empty", "", "VARCHAR bytes:\"\""},
		{"bytes", []byte{0x00, 0x27, 0x5c, 0x22, 0xff, 0x0a}, "VARBINARY bytes:\"\\x00'\\\\\\\"\\xff\\n\""},
		{"date", time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC), "VARCHAR bytes:\"2024-01-31 00:00:00\""},
		{"datetime-micro", time.Date(2024, 1, 31, 12, 34, 56, 123456000, time.UTC), "VARCHAR bytes:\"2024-01-31 12:34:56.123456\""},
		{"null", nil, "NULL NULL"},
	}
	if !text {
		// SEND_LONG_DATA: maxAllowedPacket=4096 makes the driver send strings and
		// bytes of 2,048 bytes or more (4096 / (1 param + 1)) as long data.
		ps = append(ps, param{"long-data", longText, "VARCHAR bytes:" + strconv.Quote(longText)})
	}
	return ps
}

// ps-params / text-params: SELECT ? with one value of every type the driver binds.
func scParams(ctx context.Context, text bool) (string, error) {
	extra := "maxAllowedPacket=4096"
	if text {
		extra = "interpolateParams=true"
	}
	db, err := open(extra)
	if err != nil {
		return "", err
	}
	defer db.Close()
	var bad []string
	n := 0
	var stmt *sql.Stmt
	if !text {
		// one prepared statement re-bound with every type in turn
		stmt, err = db.PrepareContext(ctx, "SELECT ?")
		if err != nil {
			return "", fmt.Errorf("prepare: %v", err)
		}
		defer stmt.Close()
	}
	for _, p := range params(text) {
		// db.Query with an argument: prepared per call (or interpolated in text mode)
		got, err := selectOne(ctx, db, nil, p.arg)
		if err != nil {
			got = "error: " + err.Error()
		}
		n++
		want := p.want
		if text {
			want = asText(want)
		}
		if want == "float" {
			want = floatWant(got, p.arg)
		}
		if got != want {
			bad = append(bad, fmt.Sprintf("%s: want %s got %s", p.name, want, got))
		}
		if stmt != nil {
			got, err := selectOne(ctx, nil, stmt, p.arg)
			if err != nil {
				got = "error: " + err.Error()
			}
			n++
			want := p.want
			if want == "float" {
				want = floatWant(got, p.arg)
			}
			if got != want {
				bad = append(bad, fmt.Sprintf("%s (db.Prepare): want %s got %s", p.name, want, got))
			}
		}
	}
	if len(bad) > 0 {
		return "", fmt.Errorf("%d/%d wrong: %s", len(bad), n, strings.Join(bad, "; "))
	}
	how := "db.Query(\"SELECT ?\", v) and one db.Prepare re-bound per type, incl. SEND_LONG_DATA"
	if text {
		how = "interpolateParams=true"
	}
	return fmt.Sprintf("%d values exact (%s)", n, how), nil
}

func floatWant(got string, arg interface{}) string {
	if exactFloat(got, arg) {
		return got
	}
	return fmt.Sprintf("DECIMAL/DOUBLE of exactly %v", arg)
}

// exactFloat: got is `DECIMAL bytes:"T"` with T parsing to exactly the bound
// float, or `DOUBLE float64:V` with V the bound float
func exactFloat(got string, arg interface{}) bool {
	var want float64
	switch a := arg.(type) {
	case float64:
		want = a
	case float32:
		want = float64(a)
	default:
		return false
	}
	// the text protocol gives the digits as bytes (DECIMAL, or a DOUBLE
	// literal such as 1e+300, which MySQL prints as "1e300")
	for _, prefix := range []string{"DECIMAL bytes:", "DOUBLE bytes:"} {
		if strings.HasPrefix(got, prefix) {
			t, err := strconv.Unquote(strings.TrimPrefix(got, prefix))
			if err != nil {
				return false
			}
			f, err := strconv.ParseFloat(t, 64)
			return err == nil && f == want
		}
	}
	return got == "DOUBLE float64:"+strconv.FormatFloat(want, 'g', -1, 64)
}

// asText: the text protocol gives every non-NULL cell as bytes; "TYPE int64:N" -> "TYPE bytes:\"N\""
func asText(want string) string {
	sp := strings.IndexByte(want, ' ')
	if sp < 0 {
		return want
	}
	typ, v := want[:sp], want[sp+1:]
	if strings.HasPrefix(v, "int64:") {
		v = "bytes:" + strconv.Quote(strings.TrimPrefix(v, "int64:"))
	}
	return typ + " " + v
}

var typedNames = "c_tiny c_short c_long c_longlong c_ulonglong c_float c_double c_decimal c_string c_blob c_date c_datetime c_timestamp c_time c_year"

// ps-types / text-types: SELECT * FROM typed, every column decoded (parseTime=true).
func scTypes(ctx context.Context, text bool) (string, error) {
	if mode != "rules" {
		return "", naError("rules mode only")
	}
	db, err := open("parseTime=true")
	if err != nil {
		return "", err
	}
	defer db.Close()
	var rows *sql.Rows
	if text {
		rows, err = db.QueryContext(ctx, "SELECT * FROM typed")
	} else {
		stmt, err2 := db.PrepareContext(ctx, "SELECT * FROM typed")
		if err2 != nil {
			return "", fmt.Errorf("prepare: %v", err2)
		}
		defer stmt.Close()
		rows, err = stmt.QueryContext(ctx)
	}
	if err != nil {
		return "", err
	}
	types, names, out, err := readAll(rows)
	if err != nil {
		return "", err
	}
	if got := strings.Join(names, " "); got != typedNames {
		return "", fmt.Errorf("column names %q", got)
	}
	wantTypes := "TINYINT SMALLINT INT BIGINT BIGINT FLOAT DOUBLE DECIMAL VARCHAR BLOB DATE DATETIME TIMESTAMP TIME YEAR"
	if got := strings.Join(types, " "); got != wantTypes {
		return "", fmt.Errorf("column types %q", got)
	}
	var want [][]string
	if text {
		// text rows: every cell as the bytes sent, dates parsed by parseTime
		want = [][]string{
			{`bytes:"-128"`, `bytes:"-32768"`, `bytes:"-2147483648"`, `bytes:"-9223372036854775808"`, `bytes:"18446744073709551615"`,
				`bytes:"1.5"`, `bytes:"-2.25"`, `bytes:"12345678.123456"`, `bytes:"héllo ✓"`, `bytes:"\x00\x01\xff"`,
				"time:2024-01-31 00:00:00 UTC", "time:2024-01-31 12:34:56.123456 UTC", "time:1999-12-31 23:59:59 UTC",
				`bytes:"-838:59:59.000000"`, `bytes:"2024"`},
			{`bytes:"127"`, `bytes:"32767"`, `bytes:"2147483647"`, `bytes:"9223372036854775807"`, `bytes:"0"`,
				`bytes:"0"`, `bytes:"0"`, `bytes:"-0.000001"`, `bytes:""`, `bytes:""`,
				"time:1000-01-01 00:00:00 UTC", "time:1000-01-01 00:00:00 UTC", "time:2038-01-19 03:14:07 UTC",
				`bytes:"25:00:00.000001"`, `bytes:"1901"`},
		}
	} else {
		// binary rows: integers as int64 (unsigned beyond int64 as text), FLOAT as
		// float32, DOUBLE as float64, TIME formatted by the driver with the
		// column's 6 decimals
		want = [][]string{
			{"int64:-128", "int64:-32768", "int64:-2147483648", "int64:-9223372036854775808", `bytes:"18446744073709551615"`,
				"float32:1.5", "float64:-2.25", `bytes:"12345678.123456"`, `bytes:"héllo ✓"`, `bytes:"\x00\x01\xff"`,
				"time:2024-01-31 00:00:00 UTC", "time:2024-01-31 12:34:56.123456 UTC", "time:1999-12-31 23:59:59 UTC",
				`bytes:"-838:59:59.000000"`, "int64:2024"},
			{"int64:127", "int64:32767", "int64:2147483647", "int64:9223372036854775807", "int64:0",
				"float32:0", "float64:0", `bytes:"-0.000001"`, `bytes:""`, `bytes:""`,
				"time:1000-01-01 00:00:00 UTC", "time:1000-01-01 00:00:00 UTC", "time:2038-01-19 03:14:07 UTC",
				`bytes:"25:00:00.000001"`, "int64:1901"},
		}
	}
	nulls := make([]string, 15)
	for i := range nulls {
		nulls[i] = "NULL"
	}
	want = append(want, nulls)
	if len(out) != len(want) {
		return "", fmt.Errorf("%d rows, want %d", len(out), len(want))
	}
	cols := strings.Fields(typedNames)
	var bad []string
	for r := range want {
		for c := range want[r] {
			if out[r][c] != want[r][c] {
				bad = append(bad, fmt.Sprintf("row %d %s: want %s got %s", r+1, cols[c], want[r][c], out[r][c]))
			}
		}
	}
	if len(bad) > 0 {
		return "", fmt.Errorf("%d cells wrong: %s", len(bad), strings.Join(bad, "; "))
	}
	return "3 rows x 15 columns decoded exactly (types " + strings.ToLower(wantTypes[:7]) + "..year)", nil
}

// ps-ok / text-ok: rules: INSERT affected 3 insert id 42; builtin: SET @a = ? then SELECT @a.
func scOk(ctx context.Context, text bool) (string, error) {
	extra := ""
	if text {
		extra = "interpolateParams=true"
	}
	db, err := open(extra)
	if err != nil {
		return "", err
	}
	defer db.Close()
	conn, err := db.Conn(ctx) // one session: @a must be seen by the next statement
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if mode == "rules" {
		var res sql.Result
		if text {
			res, err = conn.ExecContext(ctx, "INSERT INTO t VALUES (?)", 1)
		} else {
			stmt, err2 := conn.PrepareContext(ctx, "INSERT INTO t VALUES (?)")
			if err2 != nil {
				return "", fmt.Errorf("prepare: %v", err2)
			}
			defer stmt.Close()
			res, err = stmt.ExecContext(ctx, 1)
		}
		if err != nil {
			return "", err
		}
		ra, err1 := res.RowsAffected()
		id, err2 := res.LastInsertId()
		if err1 != nil || err2 != nil || ra != 3 || id != 42 {
			return "", fmt.Errorf("RowsAffected=%d (%v) LastInsertId=%d (%v), want 3, 42", ra, err1, id, err2)
		}
		return "RowsAffected=3 LastInsertId=42", nil
	}
	val := "it's ✓"
	var res sql.Result
	if text {
		res, err = conn.ExecContext(ctx, "SET @a = ?", val)
	} else {
		stmt, err2 := conn.PrepareContext(ctx, "SET @a = ?")
		if err2 != nil {
			return "", fmt.Errorf("prepare: %v", err2)
		}
		defer stmt.Close()
		res, err = stmt.ExecContext(ctx, val)
	}
	if err != nil {
		return "", fmt.Errorf("SET @a = ?: %v", err)
	}
	ra, _ := res.RowsAffected()
	var rows *sql.Rows
	if text {
		rows, err = conn.QueryContext(ctx, "SELECT @a")
	} else {
		stmt, err2 := conn.PrepareContext(ctx, "SELECT @a")
		if err2 != nil {
			return "", fmt.Errorf("prepare SELECT @a: %v", err2)
		}
		defer stmt.Close()
		rows, err = stmt.QueryContext(ctx)
	}
	if err != nil {
		return "", err
	}
	_, names, out, err := readAll(rows)
	if err != nil {
		return "", err
	}
	want := "bytes:" + fmt.Sprintf("%q", val)
	if len(out) != 1 || len(out[0]) != 1 || out[0][0] != want || names[0] != "@a" {
		return "", fmt.Errorf("SELECT @a gave %v %v, want @a %s", names, out, want)
	}
	return fmt.Sprintf("SET @a = ? (RowsAffected=%d) then SELECT @a = %q", ra, val), nil
}

// ps-error / text-error: ERR code and message, then the same connection is usable.
func scError(ctx context.Context, text bool) (string, error) {
	extra := ""
	if text {
		extra = "interpolateParams=true"
	}
	db, err := open(extra)
	if err != nil {
		return "", err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	q, code, msg := "SELECT * FROM nothing", uint16(101), "I haven't learnt how to handle that query"
	if mode == "rules" {
		q, code, msg = "SELECT * FROM missing", 1146, "Table 'test.missing' doesn't exist"
	}
	where := ""
	if text {
		rows, err := conn.QueryContext(ctx, q)
		if err == nil {
			_, _, _, err = readAll(rows)
		}
		where = "query"
		if err == nil {
			return "", errors.New("no error")
		}
		if e := checkErr(err, code, msg); e != nil {
			return "", e
		}
	} else {
		stmt, err := conn.PrepareContext(ctx, q)
		where = "prepare"
		if err == nil {
			// the ERR may come at prepare or at execute: both are fine
			where = "execute"
			rows, err2 := stmt.QueryContext(ctx)
			if err2 == nil {
				_, _, _, err2 = readAll(rows)
			}
			stmt.Close()
			err = err2
		}
		if err == nil {
			return "", errors.New("no error")
		}
		if e := checkErr(err, code, msg); e != nil {
			return "", fmt.Errorf("at %s: %v", where, e)
		}
	}
	// usable after: a prepared users query (rules) or SELECT ? (builtin) on the same connection
	got, err := usable(ctx, conn, text)
	if err != nil {
		return "", fmt.Errorf("after the error: %v", err)
	}
	return fmt.Sprintf("%d %q at %s (SQLSTATE not exposed by go-sql-driver 1.5); same connection then %s", code, msg, where, got), nil
}

func checkErr(err error, code uint16, msg string) error {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return fmt.Errorf("error %T %v, want *mysql.MySQLError", err, err)
	}
	if me.Number != code || me.Message != msg {
		return fmt.Errorf("got %d %q, want %d %q", me.Number, me.Message, code, msg)
	}
	return nil
}

func usable(ctx context.Context, conn *sql.Conn, text bool) (string, error) {
	q, arg, want := "SELECT ?", interface{}(int64(5)), "int64:5"
	if mode == "rules" {
		q, arg, want = "SELECT name FROM users WHERE id = ?", interface{}(int64(5)), `bytes:"user-5"`
	}
	if text && mode != "rules" {
		want = `bytes:"5"`
	}
	rows, err := conn.QueryContext(ctx, q, arg)
	if err != nil {
		return "", err
	}
	_, _, out, err := readAll(rows)
	if err != nil {
		return "", err
	}
	if len(out) != 1 || out[0][0] != want {
		return "", fmt.Errorf("%s gave %v, want %s", q, out, want)
	}
	return q + " -> " + want, nil
}

// ps-twice / text-twice: one statement executed twice with different values.
func scTwice(ctx context.Context, text bool) (string, error) {
	extra := ""
	if text {
		extra = "interpolateParams=true"
	}
	db, err := open(extra)
	if err != nil {
		return "", err
	}
	defer db.Close()
	q := "SELECT ?"
	args := []interface{}{int64(7), "eight"}
	wants := []string{"int64:7", `bytes:"eight"`}
	if text {
		wants[0] = `bytes:"7"`
	}
	if mode == "rules" {
		q = "SELECT name FROM users WHERE id = ?"
		args = []interface{}{int64(7), int64(8)}
		wants = []string{`bytes:"user-7"`, `bytes:"user-8"`}
	}
	var stmt *sql.Stmt
	if !text {
		stmt, err = db.PrepareContext(ctx, q)
		if err != nil {
			return "", fmt.Errorf("prepare: %v", err)
		}
		defer stmt.Close()
	}
	var got []string
	for i, a := range args {
		var rows *sql.Rows
		if stmt != nil {
			rows, err = stmt.QueryContext(ctx, a)
		} else {
			rows, err = db.QueryContext(ctx, q, a)
		}
		if err != nil {
			return "", fmt.Errorf("execution %d: %v", i+1, err)
		}
		_, _, out, err := readAll(rows)
		if err != nil {
			return "", fmt.Errorf("execution %d: %v", i+1, err)
		}
		if len(out) != 1 || out[0][0] != wants[i] {
			return "", fmt.Errorf("execution %d gave %v, want %s", i+1, out, wants[i])
		}
		got = append(got, out[0][0])
	}
	return q + " x2 -> " + strings.Join(got, ", "), nil
}

// ps-many / text-many: 500 connections open at once, then each prepares and executes.
func scMany(ctx context.Context, text bool) (string, error) {
	n := 500
	if s := os.Getenv("DRIVERS_MANY"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 0 {
			n = v
		}
	}
	extra := ""
	if text {
		extra = "interpolateParams=true"
	}
	db, err := open(extra)
	if err != nil {
		return "", err
	}
	defer db.Close()
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	q := "SELECT ?"
	if mode == "rules" {
		q = "SELECT name FROM users WHERE id = ?"
	}
	var mu sync.Mutex
	var errs []string
	var connected, done sync.WaitGroup
	start := make(chan struct{})
	connected.Add(n)
	done.Add(n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func(i int) {
			defer done.Done()
			fail := func(e string) {
				mu.Lock()
				errs = append(errs, e)
				mu.Unlock()
			}
			conn, err := db.Conn(ctx)
			connected.Done()
			if err != nil {
				fail(fmt.Sprintf("connect #%d: %v", i, err))
				return
			}
			defer conn.Close()
			<-start // every connection is open: prepare all at once
			want := "int64:" + strconv.Itoa(i)
			if text {
				want = strconv.Quote(strconv.Itoa(i))
				want = "bytes:" + want
			}
			if mode == "rules" {
				want = fmt.Sprintf(`bytes:"user-%d"`, i)
			}
			var rows *sql.Rows
			if text {
				rows, err = conn.QueryContext(ctx, q, int64(i))
			} else {
				stmt, err2 := conn.PrepareContext(ctx, q)
				if err2 != nil {
					fail(fmt.Sprintf("prepare #%d: %v", i, err2))
					return
				}
				defer stmt.Close()
				rows, err = stmt.QueryContext(ctx, int64(i))
			}
			if err != nil {
				fail(fmt.Sprintf("query #%d: %v", i, err))
				return
			}
			_, _, out, err := readAll(rows)
			if err != nil || len(out) != 1 || out[0][0] != want {
				fail(fmt.Sprintf("#%d gave %v (%v), want %s", i, out, err, want))
			}
		}(i)
	}
	connected.Wait()
	close(start)
	done.Wait()
	wall := time.Since(t0)
	if len(errs) > 0 {
		return "", fmt.Errorf("%d/%d failed; first: %s", len(errs), n, errs[0])
	}
	return fmt.Sprintf("%d connections each %s with its own value, all exact, wall %.2fs", n, map[bool]string{true: "queried", false: "prepared+executed"}[text], wall.Seconds()), nil
}

// ps-big / text-big: SELECT * FROM big, 200,000 rows: count, sums of id and val.
func scBig(ctx context.Context, text bool) (string, error) {
	if mode != "rules" {
		return "", naError("rules mode only")
	}
	db, err := open("")
	if err != nil {
		return "", err
	}
	defer db.Close()
	var rows *sql.Rows
	t0 := time.Now()
	if text {
		rows, err = db.QueryContext(ctx, "SELECT * FROM big")
	} else {
		stmt, err2 := db.PrepareContext(ctx, "SELECT * FROM big")
		if err2 != nil {
			return "", fmt.Errorf("prepare: %v", err2)
		}
		defer stmt.Close()
		rows, err = stmt.QueryContext(ctx)
	}
	if err != nil {
		return "", err
	}
	detail, err := checkBig(rows)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s, %.2fs", detail, time.Since(t0).Seconds()), nil
}

// checkBig reads SELECT * FROM big: 200,000 rows, the sums of id and val,
// every name row-<id>.
func checkBig(rows *sql.Rows) (string, error) {
	defer rows.Close()
	var cnt, sumID, sumVal int64
	var badName string
	for rows.Next() {
		var id, val int64
		var name string
		if err := rows.Scan(&id, &name, &val); err != nil {
			return "", err
		}
		cnt++
		sumID += id
		sumVal += val
		if badName == "" && name != "row-"+strconv.FormatInt(id, 10) {
			badName = fmt.Sprintf("id %d name %q", id, name)
		}
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("after %d rows: %v", cnt, err)
	}
	var wantVal int64
	for i := int64(1); i <= 200000; i++ {
		wantVal += (i*7919)%100003 - 50000
	}
	if cnt != 200000 || sumID != 20000100000 || sumVal != wantVal || badName != "" {
		return "", fmt.Errorf("count=%d sum(id)=%d sum(val)=%d %s; want 200000 20000100000 %d", cnt, sumID, sumVal, badName, wantVal)
	}
	return fmt.Sprintf("count=200000 sum(id)=20000100000 sum(val)=%d names ok", wantVal), nil
}

// tlsSeen: the handshakes a tls-* scenario's own TLS config verified.
type tlsSeen struct {
	mu     sync.Mutex
	states []tls.ConnectionState
}

func (t *tlsSeen) record(cs tls.ConnectionState) {
	t.mu.Lock()
	t.states = append(t.states, cs)
	t.mu.Unlock()
}

var tlsVersions = map[uint16]string{tls.VersionTLS10: "TLSv1", tls.VersionTLS11: "TLSv1.1",
	tls.VersionTLS12: "TLSv1.2", tls.VersionTLS13: "TLSv1.3"}

// sessionStatus: SHOW SESSION STATUS LIKE 'NAME' -> its value ("" with no row).
func sessionStatus(ctx context.Context, conn *sql.Conn, name string) (string, error) {
	rows, err := conn.QueryContext(ctx, "SHOW SESSION STATUS LIKE '"+name+"'")
	if err != nil {
		return "", fmt.Errorf("SHOW SESSION STATUS LIKE '%s': %v", name, err)
	}
	defer rows.Close()
	var vals []string
	for rows.Next() {
		var n, v string
		if err := rows.Scan(&n, &v); err != nil {
			return "", err
		}
		vals = append(vals, v)
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	if len(vals) > 1 {
		return "", fmt.Errorf("SHOW SESSION STATUS LIKE '%s': %d rows", name, len(vals))
	}
	if len(vals) == 0 {
		return "", nil
	}
	return vals[0], nil
}

// tlsSession: the one connection's TLS as both ends see it. Our config saw
// exactly one handshake, verified (a chain to the CA), and the server's
// Ssl_version and Ssl_cipher are what it negotiated (a TLS 1.3 suite has
// the same name in Go and OpenSSL; older ones differ, so there only the
// version is compared). -> "TLSv1.3 TLS_AES_256_GCM_SHA384"
func tlsSession(ctx context.Context, conn *sql.Conn, seen *tlsSeen) (string, error) {
	seen.mu.Lock()
	states := seen.states
	seen.mu.Unlock()
	if len(states) != 1 || len(states[0].VerifiedChains) == 0 {
		return "", fmt.Errorf("%d verified TLS handshakes seen, want 1", len(states))
	}
	cs := states[0]
	cipher, err := sessionStatus(ctx, conn, "Ssl_cipher")
	if err != nil {
		return "", err
	}
	version, err := sessionStatus(ctx, conn, "Ssl_version")
	if err != nil {
		return "", err
	}
	if cipher == "" {
		return "", fmt.Errorf("Ssl_cipher empty (Ssl_version %q)", version)
	}
	mine := tls.CipherSuiteName(cs.CipherSuite)
	if version != tlsVersions[cs.Version] || (cs.Version == tls.VersionTLS13 && cipher != mine) {
		return "", fmt.Errorf("server says %s %s, the client negotiated %s %s", version, cipher, tlsVersions[cs.Version], mine)
	}
	return version + " " + cipher, nil
}

// openTLS: one connection over a TLS config of the scenario's own (named
// understudy-ca-KEY), to PORT, with its TLS as both ends see it
// (tlsSession); done() closes the connection and its pool.
func openTLS(ctx context.Context, key, port, extra string) (conn *sql.Conn, t string, done func(), err error) {
	seen := &tlsSeen{}
	name := "understudy-ca-" + key
	if err := registerTLS(name, seen.record); err != nil {
		return nil, "", nil, err
	}
	db, err := openDSN(dsnAt(port, name, extra))
	if err != nil {
		return nil, "", nil, err
	}
	conn, err = db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, "", nil, err
	}
	done = func() { conn.Close(); db.Close() }
	if t, err = tlsSession(ctx, conn, seen); err != nil {
		done()
		return nil, "", nil, err
	}
	return conn, t, done, nil
}

var tlsPlugins = [][2]string{{"native", "mysql_native_password"}, {"sha2", "caching_sha2_password"},
	{"sha256", "sha256_password"}, {"clear", "mysql_clear_password"}}

// tls-KEY: a login to the per-plugin server over verified TLS, then the
// built-in answers: SHOW DATABASES, the 101 error, SHOW DATABASES again
// (database/sql has no select-db call). The driver shows nothing of the
// login's exchange (caching_sha2_password's 0x03 or 0x04), so the detail
// names the plugin of the port only.
func scTLSPlugin(ctx context.Context, key, plugin string) (string, error) {
	p := tlsPorts[key]
	if p == "" {
		return "", fmt.Errorf("no %s=PORT in DRIVERS_TLS_PORTS %q", key, os.Getenv("DRIVERS_TLS_PORTS"))
	}
	extra, how := "", ""
	if key == "clear" {
		// the driver refuses the cleartext plugin unless told to allow it
		extra, how = "allowCleartextPasswords=true", " (allowCleartextPasswords=true)"
	}
	conn, t, done, err := openTLS(ctx, key, p, extra)
	if err != nil {
		return "", err
	}
	defer done()
	dbs := func(when string) error {
		rows, err := conn.QueryContext(ctx, "SHOW DATABASES")
		if err != nil {
			return fmt.Errorf("SHOW DATABASES %s: %v", when, err)
		}
		_, _, out, err := readAll(rows)
		if err != nil {
			return fmt.Errorf("SHOW DATABASES %s: %v", when, err)
		}
		ok := len(out) == 70
		for i := 0; ok && i < 70; i++ {
			ok = len(out[i]) == 1 && out[i][0] == fmt.Sprintf(`bytes:"db_%d"`, i+1)
		}
		if !ok {
			first := out
			if len(first) > 3 {
				first = first[:3]
			}
			return fmt.Errorf("SHOW DATABASES %s: %d rows %v..., want db_1..db_70", when, len(out), first)
		}
		return nil
	}
	if err := dbs("first"); err != nil {
		return "", err
	}
	rows, err := conn.QueryContext(ctx, "SELECT * FROM nothing")
	if err == nil {
		_, _, _, err = readAll(rows)
	}
	if err == nil {
		return "", errors.New("SELECT * FROM nothing: no error")
	}
	if e := checkErr(err, 101, "I haven't learnt how to handle that query"); e != nil {
		return "", fmt.Errorf("SELECT * FROM nothing: %v", e)
	}
	if err := dbs("after the error"); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s%s over %s: 70 databases, 101 error, usable after", plugin, how, t), nil
}

// tls-compress: the compressed protocol inside TLS on the main server, then
// SELECT * FROM big through it. go-sql-driver before 1.9 has no compression:
// its DSN parser refuses compress=true, and that refusal is the N/A.
func scTLSCompress(ctx context.Context) (string, error) {
	if _, err := mysql.ParseDSN(dsn("compress=true")); err != nil {
		if strings.Contains(err.Error(), "not implemented") {
			return "", naError(fmt.Sprintf("no protocol compression in this go-sql-driver (Debian's 1.5; it came in 1.9): compress=true gives %q", err.Error()))
		}
		return "", err
	}
	conn, t, done, err := openTLS(ctx, "compress", port, "compress=true")
	if err != nil {
		return "", err
	}
	defer done()
	on, err := sessionStatus(ctx, conn, "Compression")
	if err != nil {
		return "", err
	}
	algo, err := sessionStatus(ctx, conn, "Compression_algorithm")
	if err != nil {
		return "", err
	}
	if on != "ON" {
		return "", fmt.Errorf("Compression %q (algorithm %q), want ON", on, algo)
	}
	t0 := time.Now()
	rows, err := conn.QueryContext(ctx, "SELECT * FROM big")
	if err != nil {
		return "", err
	}
	detail, err := checkBig(rows)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("Compression ON (%s) over %s: %s, %.2fs", algo, t, detail, time.Since(t0).Seconds()), nil
}

func main() {
	if len(os.Args) != 4 || (os.Args[3] != "builtin" && os.Args[3] != "rules") {
		fmt.Fprintln(os.Stderr, "usage: check HOST PORT builtin|rules")
		os.Exit(2)
	}
	host, port, mode = os.Args[1], os.Args[2], os.Args[3]
	if tlsCA != "" {
		mainTLS = "understudy-ca"
		mainTLSErr = registerTLS(mainTLS, nil)
		for _, w := range strings.Fields(os.Getenv("DRIVERS_TLS_PORTS")) {
			if i := strings.IndexByte(w, '='); i > 0 {
				tlsPorts[w[:i]] = w[i+1:]
			}
		}
	}
	type sc struct {
		name string
		fn   func(context.Context) (string, error)
	}
	var scs []sc
	for _, proto := range []string{"ps", "text"} {
		for _, s := range []struct {
			name string
			fn   func(context.Context, bool) (string, error)
		}{{"params", scParams}, {"types", scTypes}, {"ok", scOk}, {"error", scError},
			{"twice", scTwice}, {"many", scMany}, {"big", scBig}} {
			fn, text := s.fn, proto == "text"
			scs = append(scs, sc{proto + "-" + s.name, func(ctx context.Context) (string, error) { return fn(ctx, text) }})
		}
	}
	if tlsCA != "" {
		for _, kp := range tlsPlugins {
			key, plugin := kp[0], kp[1]
			scs = append(scs, sc{"tls-" + key, func(ctx context.Context) (string, error) { return scTLSPlugin(ctx, key, plugin) }})
		}
		scs = append(scs, sc{"tls-compress", scTLSCompress})
	}
	failed := false
	for _, s := range scs {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		detail, err := s.fn(ctx)
		cancel()
		var na naError
		switch {
		case errors.As(err, &na):
			fmt.Printf("N/A %s %s %s %s\n", driverName, mode, s.name, na)
		case err != nil:
			failed = true
			fmt.Printf("FAIL %s %s %s %s\n", driverName, mode, s.name, oneLine(err.Error()))
		default:
			fmt.Printf("PASS %s %s %s %s\n", driverName, mode, s.name, detail)
		}
	}
	if failed {
		os.Exit(1)
	}
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 1500 {
		s = s[:1500] + "..."
	}
	return s
}
