// Check.java: MariaDB Connector/J (Debian's libmariadb-java) against understudy.
//
// usage: java -Duser.timezone=UTC -cp DIR:mariadb-java-client.jar Check HOST PORT MODE
//        MODE = builtin | rules
//
// Prints one line per scenario: "PASS|FAIL|N/A connector-j MODE SCENARIO detail";
// exit status 1 when any scenario failed.
//
// ps-* connect with useServerPrepStmts=true (COM_STMT_PREPARE/EXECUTE, binary
// rows); text-* without it (Connector/J substitutes the parameters itself and
// sends COM_QUERY, text rows).
//
// tls runs (scripts/drivers.sh sets DRIVERS_TLS_CA and DRIVERS_TLS_PORTS):
// every connection is TLS (useSsl) with the server's certificate checked
// against the CA (serverSslCert: that CA is the only trust anchor) and its
// name against the host (Connector/J checks it unless told not to; here the
// SAN IP 127.0.0.1); then tls-native, tls-sha2, tls-sha256, tls-clear (one
// per-plugin server each) and tls-compress follow the usual scenarios.
// Connector/J picks its authentication and TLS socket plugins through
// ServiceLoaders: the wrapper lists Check$Sha2Probe and Check$Sha256Probe
// ahead of the jar's caching_sha2_password and sha256_password, so that the
// tls-* scenarios see which plugin the server switched the driver to and what
// it answered (0x04: full authentication), and Check$TlsProbe (chosen with
// tlsSocketType, tls runs only) hands them the session the driver verified;
// all three are pure delegates to the jar's plugins otherwise.

import java.io.IOException;
import java.io.InputStream;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.Date;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Time;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import org.mariadb.jdbc.authentication.AuthenticationPlugin;
import org.mariadb.jdbc.internal.com.read.Buffer;
import org.mariadb.jdbc.internal.com.send.authentication.CachingSha2PasswordPlugin;
import org.mariadb.jdbc.internal.com.send.authentication.Sha256PasswordPlugin;
import org.mariadb.jdbc.internal.io.LruTraceCache;
import org.mariadb.jdbc.internal.io.input.PacketInputStream;
import org.mariadb.jdbc.internal.io.output.PacketOutputStream;
import org.mariadb.jdbc.internal.protocol.tls.DefaultTlsSocketPlugin;
import org.mariadb.jdbc.tls.TlsSocketPlugin;
import org.mariadb.jdbc.util.Options;

public class Check {
    static final String NAME = "connector-j";
    static String host, port, mode;

    static final class Fail extends Exception {
        Fail(String m) { super(m); }
    }

    static final class NotApplicable extends Exception {
        NotApplicable(String m) { super(m); }
    }

    static void check(boolean cond, String msg) throws Fail {
        if (!cond) throw new Fail(msg);
    }

    // tls runs only: the CA that signed the servers' certificate, and the
    // per-plugin servers' ports ("native=P sha2=P sha256=P clear=P")
    static final String TLS_CA = emptyToNull(System.getenv("DRIVERS_TLS_CA"));
    static final Map<String, String> TLS_PORTS = new HashMap<>();

    static String emptyToNull(String s) {
        return s == null || s.isEmpty() ? null : s;
    }

    static Connection connect(boolean ps, String... tlsExtra) throws SQLException {
        return open(port, "test", ps, tlsExtra);
    }

    /**
     * A connection to PORT, database DB (none when empty). In tls runs: TLS,
     * the certificate verified against DRIVERS_TLS_CA (a path in a property,
     * not in the URL, which Connector/J splits on '&' and '='), plus the
     * options TLS_EXTRA ("name=value").
     */
    static Connection open(String p, String db, boolean ps, String... tlsExtra) throws SQLException {
        String url = "jdbc:mariadb://" + host + ":" + p + "/" + db + "?user=u&password=p"
            + "&connectTimeout=20000&socketTimeout=60000&useServerPrepStmts=" + ps;
        if (TLS_CA == null) return DriverManager.getConnection(url);
        Properties tls = new Properties();
        tls.setProperty("useSsl", "true");
        tls.setProperty("serverSslCert", TLS_CA);
        tls.setProperty("tlsSocketType", TlsProbe.TYPE);
        for (String kv : tlsExtra) tls.setProperty(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
        return DriverManager.getConnection(url, tls);
    }

    static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (byte x : b) sb.append(String.format("%02x", x & 0xff));
        return sb.toString();
    }

    /** a decoded value with its Java class, so that comparisons are exact */
    static String canon(Object v) {
        if (v == null) return "null";
        if (v instanceof byte[]) return "byte[]:" + hex((byte[]) v);
        if (v instanceof String) return "String:" + v;
        if (v instanceof BigDecimal) return "BigDecimal:" + ((BigDecimal) v).toPlainString();
        return v.getClass().getSimpleName() + ":" + v;
    }

    interface Binder {
        void bind(PreparedStatement ps) throws SQLException;
    }

    static final class Param {
        final String name, want, wantText;
        final Binder binder;

        Param(String name, Binder binder, String want, String wantText) {
            this.name = name; this.binder = binder; this.want = want; this.wantText = wantText;
        }
    }

    static final String STR = "it's \"quoted\" \\ back\\slash h\u00e9llo \u2713 \ud83d\ude00";
    static final byte[] BYTES = {0x00, 0x27, 0x5c, 0x22, (byte) 0xff, 0x0a};

    /**
     * One setter of every type. The built-in SELECT answers the substituted
     * literal: integers as BIGINT (getObject Long), decimals as DECIMAL
     * (BigDecimal), strings as VARCHAR, bytes as VARBINARY; floats, dates and
     * times either as that literal (DECIMAL, VARCHAR) or typed by the
     * parameter as MySQL does (DOUBLE/FLOAT, DATE, DATETIME, TIME). Each
     * alternative ("A | B") is one exact answer.
     */
    static List<Param> params() {
        List<Param> ps = new ArrayList<>();
        ps.add(new Param("setByte", p -> p.setByte(1, (byte) -128), "BIGINT Long:-128", null));
        ps.add(new Param("setShort", p -> p.setShort(1, (short) 32767), "BIGINT Long:32767", null));
        ps.add(new Param("setInt", p -> p.setInt(1, Integer.MIN_VALUE), "BIGINT Long:-2147483648", null));
        ps.add(new Param("setLong-max", p -> p.setLong(1, Long.MAX_VALUE), "BIGINT Long:9223372036854775807", null));
        ps.add(new Param("setLong-min", p -> p.setLong(1, Long.MIN_VALUE), "BIGINT Long:-9223372036854775808", null));
        // Connector/J 2.7 sends a BigInteger as a string parameter (both paths)
        ps.add(new Param("setObject-BigInteger", p -> p.setObject(1, new BigInteger("18446744073709551615")),
            "VARCHAR String:18446744073709551615", null));
        ps.add(new Param("setBoolean", p -> p.setBoolean(1, true), "BIGINT Long:1", null));
        // floats and doubles: a DECIMAL (the literal substituted), DOUBLE or FLOAT
        // (typed by the parameter) that is exactly the bound value passes
        ps.add(new Param("setFloat", p -> p.setFloat(1, 1.5f), "double:1.5", null));
        ps.add(new Param("setDouble", p -> p.setDouble(1, -2.25), "double:-2.25", null));
        ps.add(new Param("setDouble-tenth", p -> p.setDouble(1, 0.1), "double:0.1", null));
        ps.add(new Param("setDouble-big", p -> p.setDouble(1, 1e300), "double:1e300", null));
        ps.add(new Param("setDouble-small", p -> p.setDouble(1, 1.25e-7), "double:1.25e-7", null));
        ps.add(new Param("setBigDecimal", p -> p.setBigDecimal(1, new BigDecimal("12345678.123456")),
            "DECIMAL BigDecimal:12345678.123456", null));
        ps.add(new Param("setBigDecimal-neg", p -> p.setBigDecimal(1, new BigDecimal("-0.000001")),
            "DECIMAL BigDecimal:-0.000001", null));
        ps.add(new Param("setString", p -> p.setString(1, STR), "VARCHAR String:" + STR, null));
        ps.add(new Param("setString-empty", p -> p.setString(1, ""), "VARCHAR String:", null));
        ps.add(new Param("setBytes", p -> p.setBytes(1, BYTES), "VARBINARY byte[]:" + hex(BYTES), null));
        // dates and times: the quoted literal substituted (VARCHAR), or a column
        // typed by the parameter (DATE, DATETIME, TIME; " / getString")
        ps.add(new Param("setDate", p -> p.setDate(1, Date.valueOf("2024-01-31")),
            "VARCHAR String:2024-01-31 | DATE Date:2024-01-31 / 2024-01-31", null));
        ps.add(new Param("setTimestamp", p -> p.setTimestamp(1, Timestamp.valueOf("2024-01-31 12:34:56.123456")),
            "VARCHAR String:2024-01-31 12:34:56.123456"
                + " | DATETIME Timestamp:2024-01-31 12:34:56.123456 / 2024-01-31 12:34:56.123456", null));
        ps.add(new Param("setTime", p -> p.setTime(1, Time.valueOf("12:34:56")),
            "VARCHAR String:12:34:56 | TIME Time:12:34:56 / 12:34:56 | TIME Time:12:34:56 / 12:34:56.000000", null));
        ps.add(new Param("setObject-LocalDate", p -> p.setObject(1, LocalDate.of(1000, 1, 1)),
            "VARCHAR String:1000-01-01 | DATE Date:1000-01-01 / 1000-01-01", null));
        ps.add(new Param("setObject-LocalDateTime", p -> p.setObject(1, LocalDateTime.of(2038, 1, 19, 3, 14, 7, 999999000)),
            "VARCHAR String:2038-01-19 03:14:07.999999"
                + " | DATETIME Timestamp:2038-01-19 03:14:07.999999 / 2038-01-19 03:14:07.999999", null));
        ps.add(new Param("setObject-LocalTime", p -> p.setObject(1, LocalTime.of(23, 59, 59, 1000)),
            "VARCHAR String:23:59:59.000001 | TIME Time:23:59:59 / 23:59:59.000001", null));
        ps.add(new Param("setNull", p -> p.setNull(1, Types.INTEGER), "NULL null", null));
        ps.add(new Param("setNull-VARCHAR", p -> p.setNull(1, Types.VARCHAR), "NULL null", null));
        return ps;
    }

    static String doubleWant(String got, double v) {
        if (got.startsWith("DECIMAL BigDecimal:")) {
            try {
                if (new BigDecimal(got.substring(19)).doubleValue() == v) return got;
            } catch (NumberFormatException e) {
                // falls through to the mismatch
            }
        }
        if (got.equals("DOUBLE Double:" + v)) return got;
        if ((float) v == v && got.equals("FLOAT Float:" + (float) v)) return got;
        return "DECIMAL/DOUBLE/FLOAT of exactly " + v;
    }

    static String selectOne(PreparedStatement st) throws SQLException {
        try (ResultSet rs = st.executeQuery()) {
            ResultSetMetaData md = rs.getMetaData();
            if (md.getColumnCount() != 1) return md.getColumnCount() + " columns";
            if (!rs.next()) return "no row";
            Object v = rs.getObject(1);
            String got = md.getColumnTypeName(1) + " " + canon(v);
            // java.sql.Time keeps no fraction: getString shows the exact value
            if (v instanceof java.util.Date) got += " / " + rs.getString(1);
            if (rs.next()) return "two rows";
            return got;
        }
    }

    static String scParams(boolean ps) throws Exception {
        List<String> bad = new ArrayList<>();
        int n = 0;
        try (Connection c = connect(ps); PreparedStatement st = c.prepareStatement("SELECT ?")) {
            for (Param p : params()) {
                String want = (!ps && p.wantText != null) ? p.wantText : p.want;
                String got;
                try {
                    p.binder.bind(st);
                    got = selectOne(st);
                } catch (SQLException e) {
                    got = "SQLException " + e.getErrorCode() + " " + e.getMessage();
                }
                n++;
                if (want.startsWith("double:")) want = doubleWant(got, Double.parseDouble(want.substring(7)));
                else for (String alt : want.split(" \\| ")) if (alt.equals(got)) want = got;
                if (!got.equals(want)) bad.add(p.name + ": want " + want + " got " + got);
            }
        }
        check(bad.isEmpty(), bad.size() + "/" + n + " wrong: " + String.join("; ", bad));
        return n + " setters on one PreparedStatement, getObject exact"
            + (ps ? " (server-side)" : " (client-side substitution)");
    }

    static final String[] TYPED_COLS = {"c_tiny", "c_short", "c_long", "c_longlong", "c_ulonglong", "c_float",
        "c_double", "c_decimal", "c_string", "c_blob", "c_date", "c_datetime", "c_timestamp", "c_time", "c_year"};

    interface Getter {
        Object get(ResultSet rs, int col) throws SQLException;
    }

    /** a typed getter per column, as an application would read it */
    static final Getter[] GETTERS = {
        (rs, i) -> rs.getByte(i), (rs, i) -> rs.getShort(i), (rs, i) -> rs.getInt(i), (rs, i) -> rs.getLong(i),
        (rs, i) -> rs.getBigDecimal(i), (rs, i) -> rs.getFloat(i), (rs, i) -> rs.getDouble(i),
        (rs, i) -> rs.getBigDecimal(i), (rs, i) -> rs.getString(i), (rs, i) -> rs.getBytes(i),
        (rs, i) -> rs.getDate(i), (rs, i) -> rs.getTimestamp(i), (rs, i) -> rs.getTimestamp(i),
        (rs, i) -> rs.getString(i), (rs, i) -> rs.getShort(i),
    };

    // row by row: the typed getter's value (getters of primitives give 0 and wasNull for NULL)
    static final String[][] TYPED_WANT = {
        {"Byte:-128", "Short:-32768", "Integer:-2147483648", "Long:-9223372036854775808",
            "BigDecimal:18446744073709551615", "Float:1.5", "Double:-2.25", "BigDecimal:12345678.123456",
            "String:h\u00e9llo \u2713", "byte[]:0001ff", "Date:2024-01-31", "Timestamp:2024-01-31 12:34:56.123456",
            "Timestamp:1999-12-31 23:59:59.0", "String:-838:59:59.000000", "Short:2024"},
        {"Byte:127", "Short:32767", "Integer:2147483647", "Long:9223372036854775807",
            "BigDecimal:0", "Float:0.0", "Double:0.0", "BigDecimal:-0.000001",
            "String:", "byte[]:", "Date:1000-01-01", "Timestamp:1000-01-01 00:00:00.0",
            "Timestamp:2038-01-19 03:14:07.0", "String:25:00:00.000001", "Short:1901"},
        {"Byte:0", "Short:0", "Integer:0", "Long:0", "null", "Float:0.0", "Double:0.0", "null", "null", "null",
            "null", "null", "null", "null", "Short:0"},
    };

    // getObject per row: the classes Connector/J 2.7 maps each type to. java.sql.Time
    // cannot hold a negative or over-24h TIME: it wraps (-838:59:59 -> 02:59:59,
    // 25:00:00 -> 01:00:00) on both protocols, as against MySQL; getString above
    // reads it exactly. YEAR maps to a Date (yearIsDateType).
    static final String[][] TYPED_OBJ = {
        {"Integer:-128", "Integer:-32768", "Integer:-2147483648", "Long:-9223372036854775808",
            "BigInteger:18446744073709551615", "Float:1.5", "Double:-2.25", "BigDecimal:12345678.123456",
            "String:h\u00e9llo \u2713", "byte[]:0001ff", "Date:2024-01-31", "Timestamp:2024-01-31 12:34:56.123456",
            "Timestamp:1999-12-31 23:59:59.0", "Time:02:59:59", "Date:2024-01-01"},
        {"Integer:127", "Integer:32767", "Integer:2147483647", "Long:9223372036854775807",
            "BigInteger:0", "Float:0.0", "Double:0.0", "BigDecimal:-0.000001",
            "String:", "byte[]:", "Date:1000-01-01", "Timestamp:1000-01-01 00:00:00.0",
            "Timestamp:2038-01-19 03:14:07.0", "Time:01:00:00", "Date:1901-01-01"},
        {"null", "null", "null", "null", "null", "null", "null", "null", "null", "null",
            "null", "null", "null", "null", "null"},
    };

    static final String TYPED_TYPES = "TINYINT SMALLINT INTEGER BIGINT BIGINT UNSIGNED FLOAT DOUBLE DECIMAL "
        + "VARCHAR BLOB DATE DATETIME TIMESTAMP TIME YEAR";

    static String scTypes(boolean ps) throws Exception {
        if (!mode.equals("rules")) throw new NotApplicable("rules mode only");
        List<String> bad = new ArrayList<>();
        try (Connection c = connect(ps); PreparedStatement st = c.prepareStatement("SELECT * FROM typed");
             ResultSet rs = st.executeQuery()) {
            ResultSetMetaData md = rs.getMetaData();
            check(md.getColumnCount() == 15, md.getColumnCount() + " columns");
            List<String> names = new ArrayList<>(), types = new ArrayList<>();
            for (int i = 1; i <= 15; i++) {
                names.add(md.getColumnLabel(i));
                types.add(md.getColumnTypeName(i));
            }
            check(String.join(" ", names).equals(String.join(" ", TYPED_COLS)), "column names " + names);
            check(String.join(" ", types).equals(TYPED_TYPES), "column types " + types);
            int row = 0;
            while (rs.next()) {
                check(row < 3, "more than 3 rows");
                for (int i = 0; i < 15; i++) {
                    Object v = GETTERS[i].get(rs, i + 1);
                    boolean wasNull = rs.wasNull();
                    String got = canon(v);
                    if (!got.equals(TYPED_WANT[row][i]))
                        bad.add("row " + (row + 1) + " " + TYPED_COLS[i] + ": want " + TYPED_WANT[row][i] + " got " + got);
                    if (wasNull != (row == 2))
                        bad.add("row " + (row + 1) + " " + TYPED_COLS[i] + ": wasNull " + wasNull);
                    String obj = canon(rs.getObject(i + 1));
                    if (!obj.equals(TYPED_OBJ[row][i]))
                        bad.add("row " + (row + 1) + " " + TYPED_COLS[i] + " getObject: want " + TYPED_OBJ[row][i] + " got " + obj);
                }
                row++;
            }
            check(row == 3, row + " rows");
        }
        check(bad.isEmpty(), bad.size() + " cells wrong: " + String.join("; ", bad));
        return "3 rows x 15 columns, typed getters and getObject exact (" + (ps ? "binary" : "text") + " rows)";
    }

    static String scOk(boolean ps) throws Exception {
        try (Connection c = connect(ps)) {
            if (mode.equals("rules")) {
                try (PreparedStatement st = c.prepareStatement("INSERT INTO t VALUES (?)",
                    Statement.RETURN_GENERATED_KEYS)) {
                    st.setInt(1, 1);
                    int n = st.executeUpdate();
                    long id = -1;
                    try (ResultSet keys = st.getGeneratedKeys()) {
                        if (keys.next()) id = keys.getLong(1);
                    }
                    check(n == 3 && id == 42, "executeUpdate=" + n + " generated key=" + id + ", want 3, 42");
                    return "executeUpdate=3 getGeneratedKeys=42";
                }
            }
            String val = "it's \u2713";
            int n;
            try (PreparedStatement st = c.prepareStatement("SET @a = ?")) {
                st.setString(1, val);
                n = st.executeUpdate();
            }
            try (PreparedStatement st = c.prepareStatement("SELECT @a"); ResultSet rs = st.executeQuery()) {
                check(rs.next(), "SELECT @a: no row");
                String label = rs.getMetaData().getColumnLabel(1);
                String got = rs.getString(1);
                check("@a".equals(label) && val.equals(got), "SELECT @a gave " + label + "=" + got + ", want @a=" + val);
            }
            return "SET @a = ? (executeUpdate=" + n + ") then SELECT @a = " + val;
        }
    }

    static String scError(boolean ps) throws Exception {
        String q = "SELECT * FROM nothing", state = "HY000", msg = "I haven't learnt how to handle that query";
        int code = 101;
        if (mode.equals("rules")) {
            q = "SELECT * FROM missing"; code = 1146; state = "42S02"; msg = "Table 'test.missing' doesn't exist";
        }
        try (Connection c = connect(ps)) {
            SQLException err = null;
            String where = "prepare";
            try (PreparedStatement st = c.prepareStatement(q)) {
                where = "execute";
                try (ResultSet rs = st.executeQuery()) {
                    while (rs.next()) { }
                }
            } catch (SQLException e) {
                err = e;
            }
            check(err != null, "no SQLException");
            // Connector/J 2.x prefixes the server's message with "(conn=ID) "
            String m = err.getMessage() == null ? "" : err.getMessage().replaceFirst("^\\(conn=\\d+\\) ", "");
            check(err.getErrorCode() == code && state.equals(err.getSQLState()) && msg.equals(m),
                "at " + where + ": got " + err.getErrorCode() + " " + err.getSQLState() + " '" + err.getMessage()
                    + "', want " + code + " " + state + " '" + msg + "'");
            check(c.isValid(5), "connection not valid after the error");
            String after = usable(c);
            return code + " " + state + " '" + msg + "' (" + err.getClass().getSimpleName() + " at " + where
                + "); same connection then " + after;
        }
    }

    static String usable(Connection c) throws Exception {
        String q = mode.equals("rules") ? "SELECT name FROM users WHERE id = ?" : "SELECT ?";
        String want = mode.equals("rules") ? "user-5" : "5";
        try (PreparedStatement st = c.prepareStatement(q)) {
            st.setInt(1, 5);
            try (ResultSet rs = st.executeQuery()) {
                check(rs.next(), q + ": no row");
                String got = rs.getString(1);
                check(want.equals(got), q + " gave " + got + ", want " + want);
            }
        }
        return q + " -> " + want;
    }

    static String scTwice(boolean ps) throws Exception {
        boolean rules = mode.equals("rules");
        String q = rules ? "SELECT name FROM users WHERE id = ?" : "SELECT ?";
        List<String> got = new ArrayList<>();
        try (Connection c = connect(ps); PreparedStatement st = c.prepareStatement(q)) {
            for (int i = 0; i < 2; i++) {
                String want;
                if (rules) {
                    st.setInt(1, 7 + i);
                    want = "String:user-" + (7 + i);
                } else if (i == 0) {
                    st.setInt(1, 7);
                    want = "Long:7";
                } else {
                    st.setString(1, "eight");
                    want = "String:eight";
                }
                try (ResultSet rs = st.executeQuery()) {
                    check(rs.next(), "execution " + (i + 1) + ": no row");
                    String g = canon(rs.getObject(1));
                    check(g.equals(want), "execution " + (i + 1) + " gave " + g + ", want " + want);
                    check(!rs.next(), "execution " + (i + 1) + ": two rows");
                    got.add(g);
                }
            }
        }
        return q + " x2 on one PreparedStatement -> " + String.join(", ", got);
    }

    static String scMany(boolean ps) throws Exception {
        int n = 500;
        String env = System.getenv("DRIVERS_MANY");
        if (env != null && env.matches("\\d+") && Integer.parseInt(env) > 0) n = Integer.parseInt(env);
        boolean rules = mode.equals("rules");
        String q = rules ? "SELECT name FROM users WHERE id = ?" : "SELECT ?";
        List<String> errors = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch connected = new CountDownLatch(n), go = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            final int k = i;
            Thread t = new Thread(null, () -> {
                Connection c = null;
                try {
                    // tls runs: no pipelined login here. Connector/J 2.7 sends its
                    // session queries behind the handshake response and reads
                    // their answers with a fixed 500 ms read timeout; DRIVERS_MANY
                    // TLS handshakes at once on two shared cores take longer than
                    // that (the server answers all of them: a client-side
                    // timeout), so it reads them with socketTimeout instead. The
                    // single-connection scenarios keep the pipelined login.
                    c = connect(ps, "usePipelineAuth=false");
                } catch (SQLException e) {
                    errors.add("connect #" + k + ": " + e.getMessage());
                } finally {
                    connected.countDown();
                }
                if (c == null) return;
                try (Connection cc = c) {
                    // every connection is open: prepare all at once
                    if (!go.await(120, TimeUnit.SECONDS)) throw new Fail("start latch timed out");
                    try (PreparedStatement st = cc.prepareStatement(q)) {
                        st.setInt(1, k);
                        try (ResultSet rs = st.executeQuery()) {
                            String want = rules ? "user-" + k : String.valueOf(k);
                            String got = rs.next() ? rs.getString(1) : "no row";
                            if (!want.equals(got)) errors.add("#" + k + " gave " + got + ", want " + want);
                        }
                    }
                } catch (Exception e) {
                    errors.add("#" + k + ": " + e);
                }
            }, "many-" + i, 256 * 1024);
            threads.add(t);
            t.start();
        }
        connected.await(120, TimeUnit.SECONDS);
        go.countDown();
        for (Thread t : threads) t.join(120_000);
        double wall = (System.nanoTime() - t0) / 1e9;
        check(errors.isEmpty(), errors.size() + "/" + n + " failed; first: " + (errors.isEmpty() ? "" : errors.get(0)));
        return n + " connections each " + (ps ? "prepared+executed" : "queried") + " with its own value, all exact, wall "
            + String.format("%.2fs", wall);
    }

    static String scBig(boolean ps) throws Exception {
        if (!mode.equals("rules")) throw new NotApplicable("rules mode only");
        long t0 = System.nanoTime();
        try (Connection c = connect(ps)) {
            return bigRows(c, t0);
        }
    }

    /** SELECT * FROM big on C: 200,000 rows, their sums and names exact; T0 starts the clock */
    static String bigRows(Connection c, long t0) throws Exception {
        long cnt = 0, sumId = 0, sumVal = 0;
        String badName = null;
        try (PreparedStatement st = c.prepareStatement("SELECT * FROM big"); ResultSet rs = st.executeQuery()) {
            while (rs.next()) {
                long id = rs.getLong(1), val = rs.getLong(3);
                String name = rs.getString(2);
                cnt++;
                sumId += id;
                sumVal += val;
                if (badName == null && !name.equals("row-" + id)) badName = "id " + id + " name " + name;
            }
        }
        long wantVal = 0;
        for (long i = 1; i <= 200000; i++) wantVal += (i * 7919) % 100003 - 50000;
        check(cnt == 200000 && sumId == 20000100000L && sumVal == wantVal && badName == null,
            "count=" + cnt + " sum(id)=" + sumId + " sum(val)=" + sumVal + " " + badName
                + "; want 200000 20000100000 " + wantVal);
        return "count=200000 sum(id)=20000100000 sum(val)=" + wantVal + " names ok, "
            + String.format("%.2fs", (System.nanoTime() - t0) / 1e9);
    }

    /** the one value of SHOW SESSION STATUS LIKE 'NAME' (a row named NAME, or a Fail) */
    static String sessionStatus(Connection c, String name) throws Exception {
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SHOW SESSION STATUS LIKE '" + name + "'")) {
            check(rs.next(), "SHOW SESSION STATUS LIKE '" + name + "': no row");
            String n = rs.getString(1), v = rs.getString(2);
            check(name.equalsIgnoreCase(n), "SHOW SESSION STATUS LIKE '" + name + "' gave the row " + n);
            check(!rs.next(), "SHOW SESSION STATUS LIKE '" + name + "': two rows");
            return v == null ? "" : v;
        }
    }

    /**
     * Connector/J's own TLS socket plugin, noting on the connecting thread the
     * session of each handshake once verify() (the host name check, after the
     * trust manager's chain check) accepted it. Connector/J keeps the plain
     * socket as its socket: this is where its SSLSocket can be seen.
     */
    public static final class TlsProbe implements TlsSocketPlugin {
        static final String TYPE = "understudy-check-probe";
        static final ThreadLocal<SSLSession> VERIFIED = new ThreadLocal<>();
        private final DefaultTlsSocketPlugin inner = new DefaultTlsSocketPlugin();

        public String name() { return "Check's probe over Connector/J's default TLS socket"; }
        public String type() { return TYPE; }

        public SSLSocketFactory getSocketFactory(Options options) throws SQLException {
            return inner.getSocketFactory(options);
        }

        public SSLSocket createSocket(Socket socket, SSLSocketFactory factory) throws IOException {
            return inner.createSocket(socket, factory);
        }

        public void verify(String host, SSLSession session, Options options, long serverThreadId) throws SSLException {
            inner.verify(host, session, options, serverThreadId);
            VERIFIED.set(session);
        }
    }

    /** a TLS 1.2 suite's IANA name (Java's) as OpenSSL, and so Ssl_cipher, spells it */
    static String opensslName(String iana) {
        return iana.replaceFirst("^TLS_", "").replace("_WITH_", "_").replace("AES_128", "AES128")
            .replace("AES_256", "AES256").replace("CHACHA20_POLY1305_SHA256", "CHACHA20_POLY1305").replace('_', '-');
    }

    /** open() in a tls run, and the TLS session the driver verified for that connection */
    static Connection openVerified(String p, String db, SSLSession[] session, String... tlsExtra) throws Exception {
        TlsProbe.VERIFIED.remove();
        Connection c = open(p, db, false, tlsExtra);
        session[0] = TlsProbe.VERIFIED.get();
        if (session[0] == null) {
            c.close();
            throw new Fail("connected without a verified TLS handshake (the probe's verify() never ran)");
        }
        return c;
    }

    /**
     * The session's TLS as both ends see it: the driver verified its session
     * (the CA and host name checks) and the server's Ssl_version and
     * Ssl_cipher are what that session negotiated. -> "TLSv1.3 TLS_AES_256_GCM_SHA384"
     */
    static String tlsSession(Connection c, SSLSession mine) throws Exception {
        String cipher = sessionStatus(c, "Ssl_cipher"), version = sessionStatus(c, "Ssl_version");
        check(!cipher.isEmpty(), "Ssl_cipher empty (Ssl_version '" + version + "')");
        String suite = mine.getCipherSuite();
        check(version.equals(mine.getProtocol()) && (cipher.equals(suite) || cipher.equals(opensslName(suite))),
            "server says " + version + " " + cipher + ", the socket " + mine.getProtocol() + " " + suite);
        return version + " " + cipher;
    }

    /**
     * One of the jar's authentication plugins, run as Connector/J runs it
     * after the server's AuthSwitchRequest to it, its reads watched: SEEN
     * gets the plugin's name, then the first two bytes (hex) of each packet
     * the server sent during the exchange. It changes nothing of the exchange.
     */
    abstract static class Probe implements AuthenticationPlugin {
        static final List<String> SEEN = Collections.synchronizedList(new ArrayList<>());
        private final AuthenticationPlugin inner;

        Probe(AuthenticationPlugin inner) { this.inner = inner; }

        public String name() { return inner.name(); }
        public String type() { return inner.type(); }
        public boolean mustUseSsl() { return inner.mustUseSsl(); }

        public void initialize(String password, byte[] seed, Options options) {
            inner.initialize(password, seed, options);
        }

        public Buffer process(PacketOutputStream out, PacketInputStream in, AtomicInteger seq)
                throws IOException, SQLException {
            SEEN.add(inner.type());
            return inner.process(out, new Tap(in), seq);
        }
    }

    public static final class Sha2Probe extends Probe {
        public Sha2Probe() { super(new CachingSha2PasswordPlugin()); }
    }

    public static final class Sha256Probe extends Probe {
        public Sha256Probe() { super(new Sha256PasswordPlugin()); }
    }

    /** a PacketInputStream that notes each packet's first bytes in Probe.SEEN */
    static final class Tap implements PacketInputStream {
        private final PacketInputStream in;

        Tap(PacketInputStream in) { this.in = in; }

        static void note(byte[] b, int from, int to) {
            StringBuilder sb = new StringBuilder();
            for (int i = from; i < Math.min(to, from + 2); i++) sb.append(String.format("%02x", b[i] & 0xff));
            Probe.SEEN.add(sb.toString());
        }

        public Buffer getPacket(boolean reUsable) throws IOException {
            Buffer b = in.getPacket(reUsable);
            note(b.buf, b.position, b.limit);
            return b;
        }

        public byte[] getPacketArray(boolean reUsable) throws IOException {
            byte[] b = in.getPacketArray(reUsable);
            note(b, 0, b.length);
            return b;
        }

        public int getLastPacketSeq() { return in.getLastPacketSeq(); }
        public int getCompressLastPacketSeq() { return in.getCompressLastPacketSeq(); }
        public void close() throws IOException { in.close(); }
        public void setServerThreadId(long id, Boolean isMaster) { in.setServerThreadId(id, isMaster); }
        public void setTraceCache(LruTraceCache cache) { in.setTraceCache(cache); }
        public InputStream getInputStream() { return in.getInputStream(); }
    }

    static final String[][] TLS_PLUGINS = {{"native", "mysql_native_password"}, {"sha2", "caching_sha2_password"},
        {"sha256", "sha256_password"}, {"clear", "mysql_clear_password"}};

    /** SHOW DATABASES on C is the seed's db_1..db_70, in that order */
    static void seedDatabases(Connection c, String when) throws Exception {
        List<String> got = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SHOW DATABASES")) {
            while (rs.next()) got.add(rs.getString(1));
        }
        List<String> want = new ArrayList<>();
        for (int i = 1; i <= 70; i++) want.add("db_" + i);
        check(got.equals(want), "SHOW DATABASES " + when + ": " + got.size() + " rows "
            + got.subList(0, Math.min(3, got.size())) + "..., want db_1..db_70");
    }

    /**
     * tls-KEY: a login to that plugin's server (built-in answers) over
     * verified TLS, then SHOW DATABASES, the 101 error, and the connection
     * still usable: COM_INIT_DB (setCatalog) gets OK, SHOW DATABASES again.
     */
    static String scTlsPlugin(String key, String plugin) throws Exception {
        String p = TLS_PORTS.get(key);
        check(p != null && p.matches("[1-9]\\d*"),
            "no " + key + "=PORT in DRIVERS_TLS_PORTS '" + System.getenv("DRIVERS_TLS_PORTS") + "'");
        Probe.SEEN.clear();
        SSLSession[] mine = {null};
        try (Connection c = openVerified(p, "", mine)) {
            String how = "";
            List<String> seen = new ArrayList<>(Probe.SEEN);
            // Connector/J answers every greeting but mysql_clear_password's with
            // mysql_native_password: the sha2 and sha256 servers must switch it
            // to their plugin (AuthSwitchRequest), the others need no switch
            if (key.equals("sha2")) {
                // the cold cache answers the scramble with 0x01 0x04 (perform full
                // authentication: the password then goes in clear inside TLS),
                // not 0x01 0x03 (fast path)
                check(seen.size() >= 2 && seen.get(0).equals(plugin) && seen.get(1).equals("0104"),
                    seen.isEmpty()
                        ? "the server accepted the login with no switch to " + plugin + " (no AuthSwitchRequest, no 0x04): not a full authentication"
                        : "the server's answers in " + plugin + " " + seen + ", want [" + plugin + ", 0104, ...] (full authentication)");
                how = " full auth";
            } else if (key.equals("sha256")) {
                check(!seen.isEmpty() && seen.get(0).equals(plugin),
                    "the server accepted Connector/J's mysql_native_password answer with no switch to " + plugin
                        + " (no AuthSwitchRequest): " + plugin + " never ran" + (seen.isEmpty() ? "" : "; saw " + seen));
                how = " (password in clear inside TLS)";
            } else {
                check(seen.isEmpty(), "an unexpected plugin switch: " + seen);
            }
            if (key.equals("clear")) {
                // Connector/J 2.7 has no option for the cleartext plugin: it sends
                // it only over TLS (mustUseSsl) and refuses it without
                how = " (Connector/J allows it over TLS only)";
            }
            String t = tlsSession(c, mine[0]);
            seedDatabases(c, "first");
            SQLException err = null;
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT * FROM nothing")) {
                while (rs.next()) { }
            } catch (SQLException e) {
                err = e;
            }
            String msg = "I haven't learnt how to handle that query";
            check(err != null, "SELECT * FROM nothing: no SQLException");
            String m = err.getMessage() == null ? "" : err.getMessage().replaceFirst("^\\(conn=\\d+\\) ", "");
            check(err.getErrorCode() == 101 && msg.equals(m),
                "SELECT * FROM nothing: " + err.getErrorCode() + " '" + err.getMessage() + "', want 101 '" + msg + "'");
            c.setCatalog("db_1");
            seedDatabases(c, "after the error and COM_INIT_DB");
            return plugin + how + " over " + t + ": 70 databases, 101 error, usable after (COM_INIT_DB db_1 OK, "
                + "SHOW DATABASES again)";
        }
    }

    /**
     * tls-compress: the compressed protocol (useCompression, zlib) inside
     * verified TLS on the main server, the server's Compression ON, then
     * SELECT * FROM big through it.
     */
    static String scTlsCompress() throws Exception {
        if (!mode.equals("rules")) throw new NotApplicable("rules mode only");
        long t0 = System.nanoTime();
        SSLSession[] mine = {null};
        try (Connection c = openVerified(port, "test", mine, "useCompression=true")) {
            String t = tlsSession(c, mine[0]);
            String on = sessionStatus(c, "Compression"), algo = sessionStatus(c, "Compression_algorithm");
            check(on.equals("ON"), "Compression '" + on + "' (algorithm '" + algo + "'), want ON");
            return "Compression ON (" + algo + ") over " + t + ": " + bigRows(c, t0);
        }
    }

    interface Scenario {
        String run(boolean ps) throws Exception;
    }

    static String oneLine(String s) {
        s = s.replace('\n', ' ').replace('\r', ' ');
        return s.length() > 1500 ? s.substring(0, 1500) + "..." : s;
    }

    public static void main(String[] args) {
        if (args.length != 3 || !(args[2].equals("builtin") || args[2].equals("rules"))) {
            System.err.println("usage: Check HOST PORT builtin|rules");
            System.exit(2);
        }
        host = args[0]; port = args[1]; mode = args[2];
        String[] names = {"params", "types", "ok", "error", "twice", "many", "big"};
        Scenario[] scs = {Check::scParams, Check::scTypes, Check::scOk, Check::scError, Check::scTwice,
            Check::scMany, Check::scBig};
        boolean failed = false;
        for (String proto : new String[] {"ps", "text"}) {
            for (int i = 0; i < scs.length; i++) {
                final Scenario f = scs[i];
                final boolean ps = proto.equals("ps");
                failed |= !verdict(proto + "-" + names[i], () -> f.run(ps));
            }
        }
        if (TLS_CA != null) {
            for (String w : System.getenv().getOrDefault("DRIVERS_TLS_PORTS", "").trim().split("\\s+")) {
                int eq = w.indexOf('=');
                if (eq > 0) TLS_PORTS.put(w.substring(0, eq), w.substring(eq + 1));
            }
            for (String[] kp : TLS_PLUGINS) failed |= !verdict("tls-" + kp[0], () -> scTlsPlugin(kp[0], kp[1]));
            failed |= !verdict("tls-compress", Check::scTlsCompress);
        }
        System.exit(failed ? 1 : 0);
    }

    /** runs one scenario and prints its verdict line; false when it failed */
    static boolean verdict(String sc, Callable<String> run) {
        boolean ok = true;
        try {
            String detail = run.call();
            System.out.println("PASS " + NAME + " " + mode + " " + sc + " " + detail);
        } catch (NotApplicable e) {
            System.out.println("N/A " + NAME + " " + mode + " " + sc + " " + e.getMessage());
        } catch (Fail e) {
            ok = false;
            System.out.println("FAIL " + NAME + " " + mode + " " + sc + " " + oneLine(e.getMessage()));
        } catch (Throwable e) {
            ok = false;
            System.out.println("FAIL " + NAME + " " + mode + " " + sc + " " + oneLine(e.toString()));
        }
        System.out.flush();
        return ok;
    }
}
